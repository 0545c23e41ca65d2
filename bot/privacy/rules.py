"""The words around a detail that say what it is: the vocabulary the recognisers share.

Each is a regular expression over the plain text (see normalise.py). They are written from how
partnership leads write progress notes, not from any one note.
"""

from __future__ import annotations

import re

# A child or a member of a family, as notes name them.
FAMILY = (
    r"mother|mum|mummy|mom|father|dad|daddy|step-?(?:father|mother|dad|mum|brother|sister)|"
    r"grand(?:mother|father|ma|pa|dad|mum|parent|son|daughter|child)|granddad|grandad|grampy|grandpa|nan|nana|"
    r"nanna|nanny|gran|granny|aunt|auntie|aunty|uncle|great-?(?:aunt|uncle|grandmother|grandfather|nan|gran)|"
    r"step-?(?:son|daughter)|god(?:mother|father|parent)|husband|wife|ex-?partner|ex-?husband|ex-?wife|"
    r"half-(?:brother|sister|sibling)|brother|sister|sibling|cousin|partner|boyfriend|girlfriend|"
    r"son|daughter|baby|infant|niece|nephew|carer|foster carer|kinship carer|special guardian|parent"
)
FAMILY_CUE = re.compile(rf"(?i:\b(?:{FAMILY})(?:'s|s)?)")

# Words that say a sentence is about a particular child or family (not a service or a cohort).
CHILD_CONTEXT = re.compile(
    rf"(?i:\b(?:{FAMILY}|child [A-Z]\b|child|yp|young person|pupil|boy|girl|toddler|teenager|twins?|"
    r"family|household|siblings|aged|dob|born|excluded|exclusion|missing|absconded|cp plans?|"
    r"child protection plans?|cin plans?|looked after|placement|placed|home visit|not brought|was not seen|"
    r"not seen|nfa|strategy meeting|s47|disclosed|disclosure|injur(?:y|ies)|bruis\w*|school|academy|"
    r"primary|college|nursery|year \d{1,2}|y\d{1,2})\b)"
)

# A school, a year group, a class: a first name beside one of these is a pupil's.
SCHOOL = re.compile(
    r"(?:\b(?:Year|year|Yr|yr|Y)\s?(?:1[0-3]|[1-9])\b|\bReception\b|\bNursery\b|"
    r"\b[A-Z][a-z]+(?:\s+[A-Z][a-z]+)*\s+(?:Primary|Academy|School|College|Infants|Juniors|High)\b)"
)

# A professional named in their role is not a child or family identifier.
ROLE = (
    r"chair|co-?chair|vice-?chair|lead|leads|manager|officer|director|head|headteacher|head teacher|"
    r"deputy|dsl|ddsl|designated|named|nurse|doctor|dr|gp|sw|social worker|worker|practitioner|"
    r"consultant|clinician|advis[eo]r|co-?ordinator|analyst|cllr|councillor|pc|ps|ds|di|dc|dci|sgt|"
    r"inspector|detective|prof|professor|senco|teacher|tutor|lado|iro|administrator|secretary|"
    r"author|reviewer|presenter|trainer|facilitator|minute-?taker|commissioner|principal|"
    r"superintendent|supt|ch supt|health visitor|hv|midwife|paediatrician|psychologist|"
    r"therapist|solicitor|barrister|clerk|member|rep|representative|partner agency"
)
ROLE_BEFORE = re.compile(
    rf"(?i:\b(?:{ROLE})\b\s*(?:[:,(-]|\bfor\b[^,;:]{{0,30}}[,:]?|\bof\b[^,;:]{{0,30}}[,:]?)?\s*"
    r"|\b(?:from|by|with|met|contact|contacted|emailed|email|spoke to|cc|thanks to|per|via)\s+)$"
)
ROLE_WORD_BEFORE = re.compile(
    rf"(?i:\b(?:{ROLE})\b\s*(?:[:,(-]|\bfor\b[^,;:]{{0,30}}[,:]?|\bof\b[^,;:]{{0,30}}[,:]?)?\s*$)"
)
ROLE_AFTER = re.compile(
    rf"^(?i:\s*(?:,|\(|-|:)?\s*(?:the\s+|our\s+|new\s+|interim\s+|acting\s+)?(?:{ROLE}|from|of the|at the|"
    rf"(?:is|was|will be|has been|as)\s+(?:(?:the|our|new|interim|acting|a|an)\s+)*(?:{ROLE})|"
    r"(?:to|will|has|agreed|confirmed|presented|chaired|circulated|drafted|leading|attended|sent|"
    r"reported|provided|shared|updated|emailed|asked|reviewing|chasing|chase|present|is chasing)\b))"
)

# Only the role itself after a name ("Mrs Shah, headteacher", "Mr Lee (DSL)"), not what they did.
ROLE_WORD_AFTER = re.compile(
    rf"^(?i:\s*(?:,|\(|-|:)?\s*(?:the\s+|our\s+|new\s+|interim\s+|acting\s+)?(?:{ROLE})\b|"
    rf"\s*(?:is|was|will be|has been|as)\s+(?:(?:the|our|new|interim|acting|a|an)\s+)*(?:{ROLE})\b)"
)

# A number that is a purchase order, an FOI, an invoice or similar is not a person's.
PAPERWORK = re.compile(
    r"(?i:\b(?:po|p\.o\.|purchase order|order|orders|foi|foir|eir|sar|invoice|invoices|inv|"
    r"requisition|req|ticket|incident|call ref|job|cost cent(?:re|er)|account|acc|a/c|budget code|"
    r"grant|contract|tender|batch|licence|vat|company|charity|registered|ofsted urn|urn|isbn|"
    r"room|version|v)\b(?:\s*(?:no\.?|number|num|ref(?:erence)?|id|#))?\s*[:.#]?\s*)$"
)

# A line for a service (a helpline, a team's duty number), not a person's phone.
SERVICE = re.compile(
    r"(?i:\b(?:helpline|help line|advice line|hotline|mash|front door|duty|switchboard|reception|office|"
    r"team|service|services|hub|desk|lado|contact cent(?:re|er)|edt|emergency duty|out of hours|"
    r"ooh|nspcc|childline|samaritans|police|council|icb|trust|school|academy|line|number for|"
    r"referrals?|enquiries|freephone)\b[^.;]{0,30})$"
)

# Shared mailboxes: a team's, a service's or a board's, not a person's.
FUNCTIONAL = frozenset(
    "mash front door frontdoor duty safeguarding lscp scp scb lscb cscp ncscp nscp partnership board "
    "business unit businessunit admin administration info enquiries enquiry contact contactus help "
    "helpline team office reception referrals referral cdop lado training learning events comms "
    "communications noreply no-reply donotreply foi data performance quality qa audit hub services "
    "service duty edt childrens children adults family families early help earlyhelp social care "
    "socialcare education health police virtual school schools secretariat panel reviews csp csr "
    "pa support desk servicedesk it ict hr finance procurement governance complaints".split()
)
PERSONAL_DOMAINS = frozenset(
    "gmail googlemail hotmail outlook live msn yahoo ymail icloud me mac aol btinternet btopenworld sky "
    "virginmedia talktalk protonmail proton gmx mail".split()
)
