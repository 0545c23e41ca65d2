"""The plan's data: models, migrations, repositories, import and export."""
