"""The benchmark of issue 11: Plan Tracker over HTTP against the Teams SDKs' echo bots and a floor."""
