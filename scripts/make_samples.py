#!/usr/bin/env python3
"""Write the sample rounds of ``data/samples/`` from the hand-written tables below.

    .venv/bin/python scripts/make_samples.py [--out DIR]

Every sample is built from literal data (no randomness), validated with
:func:`matcher.validation.parse_round` and written as UTF-8 JSON with one record per line, so
running the script again reproduces the committed files byte for byte (a test checks it).
What each sample is for, the hand calculation of ``tiny.json`` and the planted conflicts of
``infeasible.json`` are in ``data/samples/README.md``.

All people are synthetic: names are invented combinations and homes are points in or near
the boroughs, not addresses. Organisation and site names are public NHS bodies and places;
practice, PCN and pharmacy names are plausible local names, not real records, and the
coordinates are approximate.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from matcher.formats import save_round
from matcher.synthetic import validate_round_data
from matcher.validation import parse_round

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "data" / "samples"

DEFAULT_WEIGHTS: dict[str, int] = {
    "preference": 10, "hard_to_recruit": 30, "population_health": 1, "travel": 1,
    "unassigned": 10000, "shortfall": 1000, "fairness": 0, "change": 0,
}  # fmt: skip

Data = dict[str, Any]


# ---- North East London, cohort 1 ------------------------------------------------------------

NEL_PLACE = {
    "BD": "Barking and Dagenham", "CH": "City and Hackney", "HAV": "Havering",
    "NEW": "Newham", "RED": "Redbridge", "TH": "Tower Hamlets", "WF": "Waltham Forest",
}  # fmt: skip

# (id, name, place code, max_pharmacists or None)
NEL_PCNS = (
    ("PCN-BD-RIV", "Riverside PCN", "BD", 2),
    ("PCN-BD-HEA", "Dagenham Heathway PCN", "BD", None),
    ("PCN-BD-CHA", "Chadwell Heath and Becontree PCN", "BD", None),
    ("PCN-CH-CITY", "Shoreditch Park and City PCN", "CH", 2),
    ("PCN-CH-CLA", "Clapton and Hackney Downs PCN", "CH", None),
    ("PCN-CH-WOO", "Woodberry and Stamford Hill PCN", "CH", None),
    ("PCN-HAV-ROM", "Romford Central PCN", "HAV", None),
    ("PCN-HAV-HH", "Harold Hill and Harold Wood PCN", "HAV", None),
    ("PCN-HAV-SOU", "Hornchurch, Upminster and Rainham PCN", "HAV", None),
    ("PCN-NEW-STR", "Stratford and Forest Gate PCN", "NEW", None),
    ("PCN-NEW-EH", "East Ham and Manor Park PCN", "NEW", None),
    ("PCN-NEW-RD", "Royal Docks and Plaistow PCN", "NEW", None),
    ("PCN-RED-ILF", "Ilford Central PCN", "RED", 2),
    ("PCN-RED-WAN", "Wanstead and Woodford PCN", "RED", None),
    ("PCN-RED-SK", "Seven Kings and Goodmayes PCN", "RED", None),
    ("PCN-TH-BG", "Bethnal Green and Stepney PCN", "TH", None),
    ("PCN-TH-BOW", "Bow and Poplar PCN", "TH", None),
    ("PCN-TH-ISL", "Isle of Dogs and Limehouse PCN", "TH", None),
    ("PCN-WF-WAL", "Walthamstow PCN", "WF", 2),
    ("PCN-WF-LEY", "Leyton and Leytonstone PCN", "WF", None),
    ("PCN-WF-CHI", "Chingford PCN", "WF", None),
)

# (id, name, PCN, lat, lon, capacity, min_fill, hard_to_recruit, population_health)
# Deprivation gradient: highest in Barking and Dagenham, Newham, Tower Hamlets and Harold
# Hill; lowest in the City, Wanstead and Woodford, Upminster and Chingford.
NEL_PRACTICES: tuple[tuple[Any, ...], ...] = (
    ("GP-BD-001", "Abbey Road Surgery", "PCN-BD-RIV", 51.5372, 0.0768, 1, 0, 2, 84),
    ("GP-BD-002", "Thames View Health Centre", "PCN-BD-RIV", 51.5280, 0.1100, 1, 1, 3, 88),
    ("GP-BD-003", "Gascoigne Medical Centre", "PCN-BD-RIV", 51.5335, 0.0870, 1, 0, 3, 87),
    ("GP-BD-004", "Heathway Medical Centre", "PCN-BD-HEA", 51.5415, 0.1468, 2, 0, 2, 83),
    ("GP-BD-005", "Dagenham East Surgery", "PCN-BD-HEA", 51.5445, 0.1650, 1, 0, 2, 79),
    ("GP-BD-006", "Becontree Avenue Practice", "PCN-BD-CHA", 51.5530, 0.1290, 1, 0, 3, 85),
    ("GP-BD-007", "Chadwell Heath Health Centre", "PCN-BD-CHA", 51.5695, 0.1300, 1, 0, 2, 74),
    ("GP-CH-001", "Barbican Medical Centre", "PCN-CH-CITY", 51.5200, -0.0950, 1, 0, 0, 26),
    ("GP-CH-002", "Moorgate Medical Practice", "PCN-CH-CITY", 51.5180, -0.0880, 1, 0, 0, 31),
    ("GP-CH-003", "Hoxton Surgery", "PCN-CH-CITY", 51.5320, -0.0800, 1, 0, 2, 74),
    ("GP-CH-004", "Clapton Park Practice", "PCN-CH-CLA", 51.5560, -0.0480, 1, 0, 2, 76),
    ("GP-CH-005", "Hackney Downs Medical Centre", "PCN-CH-CLA", 51.5530, -0.0620, 2, 0, 1, 71),
    ("GP-CH-006", "Homerton Row Surgery", "PCN-CH-CLA", 51.5480, -0.0420, 1, 0, 2, 77),
    ("GP-CH-007", "Stamford Hill Group Practice", "PCN-CH-WOO", 51.5700, -0.0730, 1, 0, 1, 69),
    ("GP-CH-008", "Stoke Newington Health Centre", "PCN-CH-WOO", 51.5620, -0.0760, 1, 0, 1, 63),
    ("GP-HAV-001", "Romford Market Surgery", "PCN-HAV-ROM", 51.5775, 0.1820, 1, 0, 1, 52),
    ("GP-HAV-002", "Gidea Park Medical Centre", "PCN-HAV-ROM", 51.5850, 0.2050, 1, 0, 0, 38),
    ("GP-HAV-003", "Harold Hill Health Centre", "PCN-HAV-HH", 51.6040, 0.2330, 1, 1, 3, 78),
    ("GP-HAV-004", "Gooshays Drive Surgery", "PCN-HAV-HH", 51.6090, 0.2270, 1, 0, 3, 80),
    ("GP-HAV-005", "Harold Wood Practice", "PCN-HAV-HH", 51.5930, 0.2350, 1, 0, 1, 46),
    ("GP-HAV-006", "Hornchurch Medical Centre", "PCN-HAV-SOU", 51.5570, 0.2180, 2, 0, 0, 37),
    ("GP-HAV-007", "Rainham Village Surgery", "PCN-HAV-SOU", 51.5180, 0.1900, 1, 0, 1, 56),
    ("GP-HAV-008", "Upminster Bridge Surgery", "PCN-HAV-SOU", 51.5585, 0.2490, 1, 0, 0, 29),
    ("GP-NEW-001", "Stratford Village Surgery", "PCN-NEW-STR", 51.5430, 0.0010, 1, 0, 1, 74),
    ("GP-NEW-002", "Forest Gate Medical Centre", "PCN-NEW-STR", 51.5490, 0.0240, 1, 0, 2, 79),
    ("GP-NEW-003", "Manor Park Health Centre", "PCN-NEW-EH", 51.5510, 0.0470, 1, 0, 3, 84),
    ("GP-NEW-004", "East Ham Memorial Practice", "PCN-NEW-EH", 51.5340, 0.0530, 2, 0, 2, 85),
    ("GP-NEW-005", "Plaistow Road Surgery", "PCN-NEW-RD", 51.5290, 0.0220, 1, 0, 3, 86),
    ("GP-NEW-006", "Canning Town Medical Centre", "PCN-NEW-RD", 51.5140, 0.0150, 1, 0, 3, 89),
    ("GP-NEW-007", "Beckton Health Centre", "PCN-NEW-RD", 51.5150, 0.0630, "grows", 1, 3, 83),
    ("GP-RED-001", "Ilford Lane Surgery", "PCN-RED-ILF", 51.5530, 0.0760, 1, 0, 2, 72),
    ("GP-RED-002", "Loxford Medical Centre", "PCN-RED-ILF", 51.5480, 0.0840, 1, 0, 2, 75),
    ("GP-RED-003", "Cranbrook Road Practice", "PCN-RED-ILF", 51.5680, 0.0730, 1, 0, 1, 58),
    ("GP-RED-004", "Wanstead Place Surgery", "PCN-RED-WAN", 51.5760, 0.0270, 1, 0, 0, 33),
    ("GP-RED-005", "South Woodford Health Centre", "PCN-RED-WAN", 51.5920, 0.0280, 1, 0, 0, 35),
    ("GP-RED-006", "Seven Kings Medical Centre", "PCN-RED-SK", 51.5640, 0.0970, 1, 0, 1, 66),
    ("GP-RED-007", "Goodmayes Surgery", "PCN-RED-SK", 51.5650, 0.1120, 1, 0, 2, 70),
    ("GP-TH-001", "Bethnal Green Health Centre", "PCN-TH-BG", 51.5270, -0.0560, 1, 0, 2, 81),
    ("GP-TH-002", "Whitechapel Road Surgery", "PCN-TH-BG", 51.5190, -0.0640, 1, 1, 3, 86),
    ("GP-TH-003", "Stepney Green Practice", "PCN-TH-BG", 51.5210, -0.0450, 1, 0, 2, 83),
    ("GP-TH-004", "Bow Common Surgery", "PCN-TH-BOW", 51.5270, -0.0230, 1, 0, 2, 80),
    ("GP-TH-005", "Poplar High Street Practice", "PCN-TH-BOW", 51.5100, -0.0180, 1, 0, 3, 87),
    ("GP-TH-006", "Island Health Centre", "PCN-TH-ISL", 51.4950, -0.0120, 1, 0, 1, 61),
    ("GP-TH-007", "Limehouse Medical Centre", "PCN-TH-ISL", 51.5120, -0.0390, 1, 0, 2, 79),
    ("GP-WF-001", "Walthamstow Central Surgery", "PCN-WF-WAL", 51.5830, -0.0200, 1, 0, 1, 66),
    ("GP-WF-002", "Wood Street Practice", "PCN-WF-WAL", 51.5880, -0.0020, 1, 0, 1, 62),
    ("GP-WF-003", "Higham Hill Medical Centre", "PCN-WF-WAL", 51.5950, -0.0400, 1, 0, 2, 71),
    ("GP-WF-004", "Leyton Green Medical Centre", "PCN-WF-LEY", 51.5680, -0.0130, 1, 0, 2, 73),
    ("GP-WF-005", "Leytonstone High Road Practice", "PCN-WF-LEY", 51.5660, 0.0080, 1, 0, 1, 68),
    ("GP-WF-006", "Chingford Mount Surgery", "PCN-WF-CHI", 51.6160, -0.0180, 1, 0, 0, 45),
    ("GP-WF-007", "North Chingford Health Centre", "PCN-WF-CHI", 51.6320, 0.0000, 1, 0, 0, 34),
)

# (id, name, kind, place, max_pharmacists or None)
NEL_HOST_ORGS = (
    ("BHRUT", "Barking, Havering and Redbridge University Hospitals NHS Trust", "acute_trust",
     "Havering", 4),
    ("BARTS", "Barts Health NHS Trust", "acute_trust", "Tower Hamlets", 6),
    ("HUH", "Homerton Healthcare NHS Foundation Trust", "acute_trust", "City and Hackney", None),
    ("ELFT", "East London NHS Foundation Trust", "mental_health_and_community_trust",
     "Tower Hamlets", None),
    ("NELFT", "North East London NHS Foundation Trust", "mental_health_and_community_trust",
     "Redbridge", None),
    ("CPC-GREENLEAF", "Greenleaf Pharmacy Group", "community_pharmacy", "Barking and Dagenham",
     None),
    ("CPC-RIVERSIDE", "Riverside Chemists", "community_pharmacy", "City and Hackney", None),
    ("CPC-MERIDIAN", "Meridian Pharmacies", "community_pharmacy", "Newham", 2),
    ("NEL-ICB", "NHS North East London ICB", "icb", "Newham", None),
)  # fmt: skip

# (id, name, organisation, sector, place code, lat, lon, capacity, min_fill,
#  hard_to_recruit, population_health, requires)
NEL_HOSTS: tuple[tuple[Any, ...], ...] = (
    ("HOSP-BHRUT-AMU", "Queen's Hospital, Acute Medical Unit", "BHRUT", "hospital", "HAV",
     51.5686, 0.1794, 2, 0, 1, 62, None),
    ("HOSP-BHRUT-QED", "Queen's Hospital, Emergency Department", "BHRUT", "hospital", "HAV",
     51.5686, 0.1794, 1, 0, 2, 62, {"independent_prescriber": True}),
    ("HOSP-BHRUT-KGH", "King George Hospital, Elderly Care", "BHRUT", "hospital", "RED",
     51.5762, 0.1096, 2, 0, 2, 66, None),
    ("HOSP-BARTS-RLH-AMU", "Royal London Hospital, Acute Medical Unit", "BARTS", "hospital",
     "TH", 51.5187, -0.0590, 2, 0, 0, 74, None),
    ("HOSP-BARTS-RLH-RENAL", "Royal London Hospital, Renal Unit", "BARTS", "hospital", "TH",
     51.5187, -0.0590, 1, 0, 0, 74, {"min_experience_years": 2}),
    ("HOSP-BARTS-NUH", "Newham University Hospital, Medicine for Older People", "BARTS",
     "hospital", "NEW", 51.5247, 0.0337, 2, 1, 2, 80, None),
    ("HOSP-BARTS-WX", "Whipps Cross Hospital, Frailty and Discharge", "BARTS", "hospital", "WF",
     51.5776, 0.0089, 2, 0, 1, 64, None),
    ("HOSP-HUH-AMU", "Homerton University Hospital, Acute Medicine", "HUH", "hospital", "CH",
     51.5469, -0.0456, "from-R2", 0, 1, 70, None),
    ("MH-ELFT-THCMH", "Tower Hamlets Centre for Mental Health, Adult Inpatients", "ELFT",
     "mental_health", "TH", 51.5245, -0.0440, 2, 0, 2, 78, None),
    ("MH-ELFT-NCMH", "Newham Centre for Mental Health, Community Mental Health Team", "ELFT",
     "mental_health", "NEW", 51.5235, 0.0345, 1, 1, 2, 82, None),
    ("MH-ELFT-CHCMH", "City and Hackney Centre for Mental Health, Older Adults", "ELFT",
     "mental_health", "CH", 51.5475, -0.0445, 1, 0, 1, 70, {"skills": ["mental_health"]}),
    ("MH-NELFT-GOOD", "Goodmayes Hospital, Adult Acute Inpatients", "NELFT", "mental_health",
     "RED", 51.5758, 0.1124, 2, 0, 2, 68, None),
    ("CS-NELFT-BD", "Barking Community Hospital, Virtual Ward", "NELFT", "community_services",
     "BD", 51.5390, 0.0865, 1, 1, 3, 86, None),
    ("CS-NELFT-HAV", "Havering Intermediate Care, Romford", "NELFT", "community_services",
     "HAV", 51.5770, 0.1830, 1, 0, 1, 52, None),
    ("CS-NELFT-WF", "Wood Street Health Centre, Community Diabetes", "NELFT",
     "community_services", "WF", 51.5865, -0.0050, 1, 0, 1, 60, None),
    ("CS-ELFT-TH", "Tower Hamlets Community Health, Care Homes Team", "ELFT",
     "community_services", "TH", 51.5210, -0.0410, 2, 0, 2, 76, None),
    ("CS-ELFT-NEW", "Newham Community Health, Rapid Response", "ELFT", "community_services",
     "NEW", 51.5300, 0.0400, 1, 0, 2, 82, None),
    ("CS-ELFT-CH", "City and Hackney Community Health, Adult Community Nursing", "ELFT",
     "community_services", "CH", 51.5440, -0.0550, 1, 0, 1, 68, None),
    ("CP-BD-001", "Becontree Heath Pharmacy", "CPC-GREENLEAF", "community_pharmacy", "BD",
     51.5560, 0.1500, 1, 0, 3, 84, None),
    ("CP-BD-002", "Barking Broadway Pharmacy", "CPC-MERIDIAN", "community_pharmacy", "BD",
     51.5385, 0.0790, 1, 0, 3, 86, None),
    ("CP-CH-001", "Mare Street Pharmacy", "CPC-RIVERSIDE", "community_pharmacy", "CH",
     51.5440, -0.0560, 1, 0, 1, 70, None),
    ("CP-HAV-001", "Harold Hill Pharmacy", "CPC-GREENLEAF", "community_pharmacy", "HAV",
     51.6050, 0.2300, 1, 0, 3, 76, None),
    ("CP-HAV-002", "Upminster Pharmacy", "CPC-MERIDIAN", "community_pharmacy", "HAV",
     51.5560, 0.2500, 1, 0, 0, 30, None),
    ("CP-NEW-001", "Green Street Pharmacy", "CPC-MERIDIAN", "community_pharmacy", "NEW",
     51.5360, 0.0380, 1, 0, 2, 82, None),
    ("CP-NEW-002", "Stratford Broadway Pharmacy", "CPC-RIVERSIDE", "community_pharmacy", "NEW",
     51.5420, -0.0020, 1, 0, 1, 72, None),
    ("CP-RED-001", "Ilford Broadway Pharmacy", "CPC-RIVERSIDE", "community_pharmacy", "RED",
     51.5590, 0.0700, 1, 0, 1, 62, None),
    ("CP-TH-001", "Watney Market Pharmacy", "CPC-GREENLEAF", "community_pharmacy", "TH",
     51.5130, -0.0560, 1, 0, 2, 80, None),
    ("CP-WF-001", "Hoe Street Pharmacy", "CPC-RIVERSIDE", "community_pharmacy", "WF",
     51.5800, -0.0190, 1, 0, 1, 62, None),
    ("ICB-NEL-MO", "NHS North East London ICB, Medicines Optimisation Team", "NEL-ICB",
     "integrated_care", "NEW", 51.5430, -0.0005, 2, 0, 0, 70, None),
    ("ICB-NEL-PHM", "NHS North East London ICB, Population Health Management", "NEL-ICB",
     "integrated_care", "NEW", 51.5430, -0.0005, 1, 0, 0, 75, {"min_experience_years": 3}),
)  # fmt: skip

NEL_SUPERVISORS: tuple[Data, ...] = (
    {"id": "DPP-BHRUT-1", "name": "Designated prescribing practitioner, Queen's Hospital",
     "role": "prescribing", "supervises": "non_prescribers",
     "placements": ["HOSP-BHRUT-AMU", "HOSP-BHRUT-KGH"], "capacity": 2},
    {"id": "ES-BARTS-1", "name": "Educational supervisor, Barts Health",
     "role": "educational", "supervises": "early_years",
     "placements": ["HOSP-BARTS-RLH-AMU", "HOSP-BARTS-NUH", "HOSP-BARTS-WX"], "capacity": 2},
    {"id": "ES-HUH-1", "name": "Educational supervisor, Homerton", "role": "educational",
     "supervises": "early_years", "placements": ["HOSP-HUH-AMU"], "capacity": 1},
    {"id": "DPP-ELFT-1", "name": "Designated prescribing practitioner, ELFT",
     "role": "prescribing", "supervises": "non_prescribers",
     "placements": ["MH-ELFT-THCMH", "MH-ELFT-NCMH"], "capacity": 2},
    {"id": "SUP-NELFT-1", "name": "Clinical supervisor, NELFT community services",
     "role": "clinical", "supervises": "all",
     "placements": ["CS-NELFT-BD", "CS-NELFT-HAV", "CS-NELFT-WF"], "capacity": 2},
    {"id": "SUP-PCN-TH-BG", "name": "Clinical pharmacist lead, Bethnal Green and Stepney PCN",
     "role": "clinical", "supervises": "all",
     "placements": ["GP-TH-001", "GP-TH-002", "GP-TH-003"], "capacity": 2},
    {"id": "SUP-NEL-ICB", "name": "Educational supervisor, NEL ICB medicines optimisation",
     "role": "educational", "supervises": "all",
     "placements": ["ICB-NEL-MO", "ICB-NEL-PHM"], "capacity": 2},
)  # fmt: skip

# (id, name, lat, lon, max_travel_km, independent_prescriber, experience_years, skills,
#  unavailable, history, preferences)
NEL_PHARMACISTS: tuple[tuple[Any, ...], ...] = (
    ("PH-0001", "Amara Okafor", 51.5590, 0.0700, None, False, 1, ["diabetes"], [], [],
     ["GP-BD-002", "HOSP-BHRUT-AMU", "CS-NELFT-BD", "GP-RED-001", "MH-NELFT-GOOD",
      "CP-BD-002"]),
    ("PH-0002", "Daniel Mensah", 51.5460, -0.0550, None, True, 6,
     ["cardiovascular", "respiratory"], [], [],
     ["HOSP-HUH-AMU", "GP-CH-005", "HOSP-BARTS-RLH-AMU", "MH-ELFT-CHCMH", "GP-CH-004",
      "ICB-NEL-MO", "CP-CH-001"]),
    ("PH-0003", "Priya Sandhu", 51.5720, 0.1850, None, False, 0.5, [], [], [],
     ["GP-HAV-001", "HOSP-BHRUT-AMU", "CP-HAV-001", "HOSP-BHRUT-KGH", "CS-NELFT-HAV"]),
    ("PH-0004", "Kwame Asante", 51.5340, 0.0510, None, True, 9,
     ["mental_health", "substance_misuse"], [], [],
     ["MH-ELFT-NCMH", "GP-NEW-004", "HOSP-BARTS-NUH", "CS-ELFT-NEW", "MH-ELFT-THCMH",
      "ICB-NEL-PHM", "CP-NEW-001", "GP-NEW-003"]),
    ("PH-0005", "Sofia Costa", 51.5240, -0.0420, None, False, 2.5,
     ["antimicrobial_stewardship"], [], [],
     ["HOSP-BARTS-RLH-AMU", "GP-TH-003", "MH-ELFT-THCMH", "CS-ELFT-TH", "CP-TH-001",
      "GP-TH-001"]),
    ("PH-0006", "Tariq Hossain", 51.5150, -0.0300, None, False, 1.5, [], [], [],
     ["GP-TH-005", "CP-TH-001", "HOSP-BARTS-RLH-AMU", "CS-ELFT-TH", "ICB-NEL-MO"]),
    ("PH-0007", "Hannah Reid", 51.6200, -0.0100, None, True, 12, ["frailty", "diabetes"], [],
     [], ["GP-WF-006", "HOSP-BARTS-WX", "CS-NELFT-WF", "GP-WF-007", "MH-NELFT-GOOD",
          "CP-WF-001"]),
    ("PH-0008", "Imran Akhtar", 51.5650, 0.0950, None, False, 3, ["respiratory"], [], [],
     ["GP-RED-006", "HOSP-BHRUT-KGH", "MH-NELFT-GOOD", "CP-RED-001", "HOSP-BHRUT-AMU",
      "GP-RED-007", "CS-NELFT-BD"]),
    ("PH-0009", "Grace Adeyemi", 51.5420, 0.1500, None, False, 0.5, [], ["R2"], [],
     ["GP-BD-004", "CS-NELFT-BD", "CP-BD-001", "HOSP-BHRUT-AMU"]),
    ("PH-0010", "Naveen Gupta", 51.5850, -0.0300, None, True, 4, ["cardiovascular"], [], [],
     ["GP-WF-001", "HOSP-BARTS-WX", "HOSP-HUH-AMU", "ICB-NEL-MO", "CP-WF-001",
      "MH-ELFT-CHCMH", "GP-WF-003"]),
    ("PH-0011", "Leila Rahman", 51.5280, 0.0200, None, False, 1, ["paediatrics"], [], [],
     ["GP-NEW-005", "HOSP-BARTS-NUH", "HOSP-HUH-AMU", "CS-ELFT-NEW", "CP-NEW-002",
      "GP-NEW-006"]),
    ("PH-0012", "Samir Patel", 51.6080, 0.2200, None, False, 2, ["frailty"], [], [],
     ["GP-HAV-003", "CP-HAV-001", "HOSP-BHRUT-AMU", "CS-NELFT-HAV", "HOSP-BHRUT-KGH",
      "GP-HAV-005"]),
    ("PH-0013", "Chloe Evans", 51.5560, 0.2480, 15, True, 15,
     ["diabetes", "medicines_safety"], [], [],
     ["GP-HAV-008", "HOSP-BHRUT-QED", "ICB-NEL-PHM", "CP-HAV-002", "GP-HAV-006",
      "CS-NELFT-HAV"]),
    ("PH-0014", "Joanna Novak", 51.5450, 0.0050, None, True, 7, ["medicines_safety"], [], [],
     ["ICB-NEL-MO", "GP-NEW-001", "HOSP-BARTS-NUH", "MH-ELFT-NCMH", "ICB-NEL-PHM",
      "HOSP-BARTS-RLH-AMU", "CP-NEW-002"]),
    ("PH-0015", "Emeka Obi", 51.5520, 0.1280, None, False, 1, [], [], [],
     ["GP-BD-006", "CP-BD-001", "HOSP-BHRUT-KGH", "CS-NELFT-BD", "MH-NELFT-GOOD"]),
    ("PH-0016", "Mei Zhang", 51.5000, -0.0150, None, False, 3.5,
     ["respiratory", "antimicrobial_stewardship"], [], [],
     ["GP-TH-006", "HOSP-BARTS-RLH-AMU", "HOSP-BARTS-RLH-RENAL", "CP-TH-001", "ICB-NEL-MO",
      "MH-ELFT-THCMH", "CS-ELFT-TH", "GP-TH-007"]),
    ("PH-0017", "Yusuf Ali", 51.5330, 0.0800, None, False, 0, [], [], [],
     ["GP-BD-001", "CP-BD-002", "HOSP-BARTS-NUH", "CS-NELFT-BD", "GP-BD-003"]),
    ("PH-0018", "Ruth Williams", 51.5900, 0.0250, 12, True, 20, ["frailty", "pain_management"],
     [], [], ["GP-RED-005", "HOSP-BARTS-WX", "MH-NELFT-GOOD", "GP-RED-004", "CS-NELFT-WF",
              "HOSP-BHRUT-KGH"]),
    ("PH-0019", "Adaeze Okonkwo", 51.5620, -0.0750, None, False, 1.5, ["mental_health"], [],
     [], ["GP-CH-008", "MH-ELFT-CHCMH", "HOSP-HUH-AMU", "CP-CH-001", "GP-CH-007",
          "CS-ELFT-CH"]),
    ("PH-0020", "James Taylor", 51.5220, 0.1900, None, False, 4, [], [], ["HOSP-BHRUT-AMU"],
     ["GP-HAV-007", "HOSP-BHRUT-KGH", "CP-HAV-002", "MH-NELFT-GOOD", "CS-NELFT-HAV"]),
    ("PH-0021", "Fatima Begum", 51.5200, -0.0650, None, True, 5,
     ["mental_health", "learning_disability"], ["R3"], [],
     ["MH-ELFT-THCMH", "GP-TH-002", "CS-ELFT-TH", "HOSP-BARTS-RLH-AMU", "MH-ELFT-CHCMH",
      "CP-TH-001", "ICB-NEL-PHM"]),
    ("PH-0022", "Tom Hughes", 51.5300, -0.0850, None, False, 2, [], [], [],
     ["GP-CH-001", "GP-CH-003", "HOSP-BARTS-RLH-AMU", "HOSP-HUH-AMU", "ICB-NEL-MO",
      "CP-CH-001"]),
    ("PH-0023", "Nadia Malik", 51.5700, 0.0600, None, False, 6, ["diabetes", "cardiovascular"],
     [], ["CP-RED-001"],
     ["GP-RED-003", "HOSP-BHRUT-KGH", "MH-NELFT-GOOD", "ICB-NEL-MO", "GP-RED-001",
      "HOSP-BARTS-WX", "CS-NELFT-WF"]),
    ("PH-0024", "Olu Davies", 51.6420, 0.0700, None, True, 8, ["respiratory"], [], [],
     ["GP-RED-005", "HOSP-BARTS-WX", "HOSP-BHRUT-KGH", "MH-NELFT-GOOD", "GP-WF-007",
      "CP-RED-001"]),
    ("PH-0025", "Simran Kaur", 51.5750, 0.2000, None, False, 1, [], [], ["CS-NELFT-HAV"],
     ["GP-HAV-002", "HOSP-BHRUT-AMU", "CP-HAV-001", "HOSP-BHRUT-KGH", "MH-NELFT-GOOD"]),
    ("PH-0026", "Anil Shah", 51.5500, -0.0300, None, False, 0.5, [], [], [],
     ["GP-CH-006", "HOSP-HUH-AMU", "HOSP-BARTS-RLH-AMU", "MH-ELFT-THCMH", "CS-ELFT-CH",
      "CP-CH-001", "ICB-NEL-MO", "GP-TH-004"]),
    ("PH-0027", "Zoe Clarke", 51.6210, 0.3050, 25, True, 10, ["frailty"], [], ["CP-HAV-002"],
     ["GP-HAV-005", "HOSP-BHRUT-QED", "HOSP-BHRUT-AMU", "CS-NELFT-HAV", "GP-HAV-003",
      "CP-HAV-001"]),
)  # fmt: skip

NEL_PINS = (
    # Agreed with the practice before the round: continuity in every period.
    ("PH-0001", "R1", "GP-BD-002"),
    ("PH-0001", "R2", "GP-BD-002"),
    ("PH-0001", "R3", "GP-BD-002"),
    # Starts a funded acute-medicine project in R2.
    ("PH-0005", "R2", "HOSP-BARTS-RLH-AMU"),
    # Leads the ICB's spring medicines-optimisation audit in R3.
    ("PH-0014", "R3", "ICB-NEL-MO"),
)
NEL_BANS = (
    ("PH-0001", "CP-HAV-002", None),  # previously employed there
    ("PH-0011", "MH-ELFT-NCMH", None),  # a close relative is a patient of the team
    ("PH-0026", "HOSP-BARTS-RLH-AMU", "R1"),  # partner is the unit's R1 supervisor
)
NEL_TRAVEL = (
    ("PH-0001", "GP-BD-002", 9),  # no direct bus: the routing tool's figure
    ("PH-0020", "HOSP-BARTS-RLH-AMU", 26),  # Rainham to Whitechapel by public transport
    ("PH-0024", "HOSP-BARTS-WX", 14),  # Chigwell to Whipps Cross by bus
)


def _per_period(value: Any) -> Any:
    """The capacity patterns the tables name: ``grows`` (a second seat from R2) and
    ``from-R2`` (no seats in R1: the period is left out)."""
    if value == "grows":
        return {"R1": 1, "R2": 2, "R3": 2}
    if value == "from-R2":
        return {"R2": 2, "R3": 2}
    return value


def _placement(
    pid: str, name: str, org: str, stream: str | None, sector: str, place: str, lat: float,
    lon: float, capacity: Any, min_fill: Any, htr: int, ph: int, requires: Data | None,
) -> Data:  # fmt: skip
    rec: Data = {"id": pid, "name": name, "organisation": org}
    if stream is not None:
        rec["stream"] = stream
    rec |= {"sector": sector, "place": place, "location": {"lat": lat, "lon": lon},
            "capacity": _per_period(capacity)}  # fmt: skip
    if min_fill:
        rec["min_fill"] = min_fill
    rec |= {"hard_to_recruit": htr, "population_health": ph}
    if requires:
        rec["requires"] = requires
    return rec


def _pharmacist(row: tuple[Any, ...]) -> Data:
    pid, name, lat, lon, travel, ip, exp, skills, unavailable, history, prefs = row
    rec: Data = {"id": pid, "name": name, "home": {"lat": lat, "lon": lon}}
    if travel is not None:
        rec["max_travel_km"] = travel
    rec |= {"independent_prescriber": ip, "experience_years": exp, "skills": skills,
            "unavailable": unavailable, "history": history, "preferences": prefs}  # fmt: skip
    return rec


def _periods(ids: tuple[str, ...], starts: tuple[str, ...], weeks: int) -> list[Data]:
    return [{"id": t, "start": s, "weeks": weeks} for t, s in zip(ids, starts, strict=True)]


def nel_round() -> Data:
    """North East London, cohort 1 of 2027: 27 pharmacists, 51 practices, 30 host seats."""
    organisations: list[Data] = []
    for oid, name, code, cap in NEL_PCNS:
        org: Data = {"id": oid, "name": name, "kind": "pcn", "place": NEL_PLACE[code]}
        if cap is not None:
            org["max_pharmacists"] = cap
        organisations.append(org)
    for oid, name, kind, place, cap in NEL_HOST_ORGS:
        org = {"id": oid, "name": name, "kind": kind, "place": place}
        if cap is not None:
            org["max_pharmacists"] = cap
        organisations.append(org)
    pcn_place = {oid: code for oid, _, code, _ in NEL_PCNS}
    placements = [
        _placement(pid, name, pcn, "practice", "general_practice", NEL_PLACE[pcn_place[pcn]],
                   lat, lon, cap, mf, htr, ph, None)
        for pid, name, pcn, lat, lon, cap, mf, htr, ph in NEL_PRACTICES
    ]  # fmt: skip
    placements += [
        _placement(pid, name, org_id, "host", sector, NEL_PLACE[code], lat, lon, cap, mf, htr,
                   ph, req)
        for pid, name, org_id, sector, code, lat, lon, cap, mf, htr, ph, req in NEL_HOSTS
    ]  # fmt: skip
    return {
        "format": "spin-round/1",
        "round": {"id": "nel-2027-c1", "name": "NEL SPIN cohort 1, 2027",
                  "ics": "North East London"},
        "periods": _periods(("R1", "R2", "R3"), ("2027-01-04", "2027-05-03", "2027-08-30"), 17),
        "streams": [{"id": "practice", "sessions": 6, "rotate": False},
                    {"id": "host", "sessions": 4, "rotate": True}],
        "organisations": organisations,
        "placements": placements,
        "supervisors": list(NEL_SUPERVISORS),
        "pharmacists": [_pharmacist(row) for row in NEL_PHARMACISTS],
        "pins": [{"pharmacist": p, "period": t, "placement": pl} for p, t, pl in NEL_PINS],
        "bans": [{"pharmacist": p, "placement": pl, "period": t} for p, pl, t in NEL_BANS],
        "travel": [{"pharmacist": p, "placement": pl, "cost": c} for p, pl, c in NEL_TRAVEL],
        "rules": {"min_distinct_sectors": 3, "required_sectors": ["general_practice"],
                  "max_travel_km": 20, "max_preferences": 10, "allow_unassigned": True},
        "weights": dict(DEFAULT_WEIGHTS),
    }  # fmt: skip


# ---- tiny: the hand-checkable round ---------------------------------------------------------


def tiny_round() -> Data:
    """Three pharmacists, four placements on one meridian, two periods (README: optimum 778).

    Points sit on longitude 0 at multiples of 0.009 degrees of latitude (1.0008 km), so
    every travel distance rounds to a whole number of km that is easy to check by hand.
    """
    def pl(pid: str, name: str, sector: str, lat: float, htr: int, ph: int,
           min_fill: int = 0) -> Data:  # fmt: skip
        org = "PCN-TINY" if sector == "general_practice" else "HOST-TINY"
        return _placement(pid, name, org, None, sector, "Tinytown", lat, 0.0, 1, min_fill, htr,
                          ph, None)  # fmt: skip

    def ph(pid: str, lat: float, prefs: list[str], unavailable: list[str]) -> Data:
        return {"id": pid, "name": f"Pharmacist {pid[-1]}", "home": {"lat": lat, "lon": 0.0},
                "unavailable": unavailable, "preferences": prefs}  # fmt: skip

    return {
        "format": "spin-round/1",
        "round": {"id": "tiny", "name": "Tiny hand-checkable round", "ics": "Tinytown"},
        "periods": _periods(("P1", "P2"), ("2027-01-04", "2027-07-05"), 26),
        "organisations": [
            {"id": "PCN-TINY", "name": "Tinytown PCN", "kind": "pcn", "place": "Tinytown"},
            {"id": "HOST-TINY", "name": "Tinytown Health", "kind": "acute_trust",
             "place": "Tinytown"},
        ],
        "placements": [
            pl("GP-A", "Riverside Surgery", "general_practice", 51.500, 2, 80),
            pl("GP-B", "Hilltop Practice", "general_practice", 51.545, 0, 40),
            pl("HOSP-C", "Tinytown Hospital, Acute Medical Unit", "hospital", 51.527, 0, 50),
            pl("CP-D", "High Street Pharmacy", "community_pharmacy", 51.518, 1, 60,
               min_fill=1),
        ],
        "pharmacists": [
            ph("PH-1", 51.500, ["HOSP-C", "GP-B"], []),
            ph("PH-2", 51.545, ["GP-A", "CP-D"], []),
            ph("PH-3", 51.527, ["GP-B"], ["P2"]),
        ],
        "bans": [{"pharmacist": "PH-2", "placement": "GP-A", "period": "P1"}],
        "rules": {"min_distinct_sectors": 2, "required_sectors": ["general_practice"],
                  "max_travel_km": 10, "max_preferences": 10, "allow_unassigned": True},
        "weights": dict(DEFAULT_WEIGHTS),
    }  # fmt: skip


# ---- single-stream: a small realistic round without portfolio streams ----------------------


def single_stream_round() -> Data:
    """Waltham Forest and Redbridge pilot: 8 pharmacists rotating through 15 placements."""
    hosts = (
        ("GP-WF-001", "Walthamstow Central Surgery", "PCN-WF-WAL", "general_practice", "WF",
         51.5830, -0.0200, 1, 0, 1, 66, None),
        ("GP-WF-003", "Higham Hill Medical Centre", "PCN-WF-WAL", "general_practice", "WF",
         51.5950, -0.0400, 1, 1, 2, 71, None),
        ("GP-WF-004", "Leyton Green Medical Centre", "PCN-WF-LEY", "general_practice", "WF",
         51.5680, -0.0130, 1, 0, 2, 73, None),
        ("GP-RED-001", "Ilford Lane Surgery", "PCN-RED-ILF", "general_practice", "RED",
         51.5530, 0.0760, 1, 0, 2, 72, None),
        ("GP-RED-004", "Wanstead Place Surgery", "PCN-RED-WAN", "general_practice", "RED",
         51.5760, 0.0270, 1, 0, 0, 33, None),
        ("GP-RED-006", "Seven Kings Medical Centre", "PCN-RED-ILF", "general_practice", "RED",
         51.5640, 0.0970, 1, 0, 1, 66, None),
        ("HOSP-BARTS-WX", "Whipps Cross Hospital, Frailty and Discharge", "BARTS", "hospital",
         "WF", 51.5776, 0.0089, 2, 0, 1, 64, None),
        ("HOSP-BHRUT-KGH", "King George Hospital, Elderly Care", "BHRUT", "hospital", "RED",
         51.5762, 0.1096, 1, 0, 2, 66, {"independent_prescriber": True}),
        ("MH-NELFT-GOOD", "Goodmayes Hospital, Adult Acute Inpatients", "NELFT",
         "mental_health", "RED", 51.5758, 0.1124, 1, 0, 2, 68, None),
        ("CS-NELFT-WF", "Wood Street Health Centre, Community Diabetes", "NELFT",
         "community_services", "WF", 51.5865, -0.0050, 1, 0, 1, 60, None),
        ("CS-NELFT-RED", "Redbridge Care Homes Medicines Team", "NELFT", "community_services",
         "RED", 51.5600, 0.0720, 1, 0, 1, 62, None),
        ("CP-WF-001", "Hoe Street Pharmacy", "CPC-RIVERSIDE", "community_pharmacy", "WF",
         51.5800, -0.0190, 1, 0, 1, 62, None),
        ("CP-WF-002", "Chingford Mount Pharmacy", "CPC-RIVERSIDE", "community_pharmacy", "WF",
         51.6150, -0.0170, 1, 0, 0, 44, None),
        ("CP-RED-001", "Ilford Broadway Pharmacy", "CPC-RIVERSIDE", "community_pharmacy",
         "RED", 51.5590, 0.0700, 1, 0, 1, 62, None),
        ("ICB-NEL-MO", "NHS North East London ICB, Medicines Optimisation Team", "NEL-ICB",
         "integrated_care", "NEW", 51.5430, -0.0005, "from-R2", 0, 0, 70, None),
    )  # fmt: skip
    place = {"WF": "Waltham Forest", "RED": "Redbridge", "NEW": "Newham"}
    placements = [
        _placement(pid, name, org, None, sector, place[code], lat, lon, cap, mf, htr, ph, req)
        for pid, name, org, sector, code, lat, lon, cap, mf, htr, ph, req in hosts
    ]
    pharmacists: tuple[tuple[Any, ...], ...] = (
        ("PH-0101", "Harpreet Gill", 51.5870, -0.0250, None, True, 7, ["frailty"], [], [],
         ["HOSP-BARTS-WX", "GP-WF-001", "CS-NELFT-WF", "HOSP-BHRUT-KGH", "CP-WF-001"]),
        ("PH-0102", "Marta Kowalski", 51.5700, -0.0050, None, False, 1, [], [], [],
         ["GP-WF-004", "HOSP-BARTS-WX", "ICB-NEL-MO", "CP-WF-001", "CS-NELFT-WF"]),
        ("PH-0103", "Abdul Miah", 51.5560, 0.0800, None, False, 2.5, ["diabetes"], ["R1"], [],
         ["GP-RED-001", "CS-NELFT-RED", "MH-NELFT-GOOD", "CP-RED-001"]),
        ("PH-0104", "Eleni Papadopoulos", 51.5800, 0.0350, None, True, 11,
         ["mental_health"], [], [],
         ["MH-NELFT-GOOD", "GP-RED-004", "HOSP-BHRUT-KGH", "ICB-NEL-MO", "CS-NELFT-RED",
          "GP-RED-006"]),
        ("PH-0105", "Sean Walker", 51.6100, -0.0300, 12, False, 0.5, [], [], [],
         ["GP-WF-003", "CP-WF-002", "HOSP-BARTS-WX", "CS-NELFT-WF"]),
        ("PH-0106", "Yasmin Iqbal", 51.5660, 0.1000, None, False, 3, ["respiratory"], [],
         ["CP-RED-001"],
         ["GP-RED-006", "MH-NELFT-GOOD", "HOSP-BARTS-WX", "CS-NELFT-RED", "GP-RED-001"]),
        ("PH-0107", "Chen Wang", 51.5750, 0.0100, None, False, 1.5, [], [], [],
         ["ICB-NEL-MO", "GP-RED-004", "HOSP-BARTS-WX", "CP-WF-001", "GP-WF-004",
          "CS-NELFT-WF"]),
        ("PH-0108", "Kemi Owusu", 51.5500, 0.0600, None, True, 5, ["cardiovascular"], [], [],
         ["HOSP-BHRUT-KGH", "GP-RED-001", "CP-RED-001", "MH-NELFT-GOOD", "ICB-NEL-MO"]),
    )  # fmt: skip
    return {
        "format": "spin-round/1",
        "round": {"id": "wf-red-2027-pilot",
                  "name": "Waltham Forest and Redbridge SPIN pilot, 2027",
                  "ics": "North East London"},
        "periods": _periods(("R1", "R2", "R3"), ("2027-01-04", "2027-05-03", "2027-08-30"), 17),
        "organisations": [
            {"id": "PCN-WF-WAL", "name": "Walthamstow PCN", "kind": "pcn",
             "place": "Waltham Forest", "max_pharmacists": 1},
            {"id": "PCN-WF-LEY", "name": "Leyton and Leytonstone PCN", "kind": "pcn",
             "place": "Waltham Forest"},
            {"id": "PCN-RED-ILF", "name": "Ilford Central PCN", "kind": "pcn",
             "place": "Redbridge"},
            {"id": "PCN-RED-WAN", "name": "Wanstead and Woodford PCN", "kind": "pcn",
             "place": "Redbridge"},
            {"id": "BARTS", "name": "Barts Health NHS Trust", "kind": "acute_trust",
             "place": "Tower Hamlets"},
            {"id": "BHRUT", "name": "Barking, Havering and Redbridge University Hospitals NHS "
             "Trust", "kind": "acute_trust", "place": "Havering"},
            {"id": "NELFT", "name": "North East London NHS Foundation Trust",
             "kind": "mental_health_and_community_trust", "place": "Redbridge"},
            {"id": "CPC-RIVERSIDE", "name": "Riverside Chemists", "kind": "community_pharmacy",
             "place": "Waltham Forest"},
            {"id": "NEL-ICB", "name": "NHS North East London ICB", "kind": "icb",
             "place": "Newham"},
        ],
        "placements": placements,
        "supervisors": [
            {"id": "DPP-NELFT-1", "name": "Designated prescribing practitioner, NELFT",
             "role": "prescribing", "supervises": "non_prescribers",
             "placements": ["MH-NELFT-GOOD", "CS-NELFT-WF", "CS-NELFT-RED"], "capacity": 2},
        ],
        "pharmacists": [_pharmacist(row) for row in pharmacists],
        "pins": [{"pharmacist": "PH-0104", "period": "R1", "placement": "MH-NELFT-GOOD"}],
        "rules": {"min_distinct_sectors": 3, "required_sectors": ["general_practice"],
                  "max_travel_km": 15, "max_preferences": 10, "allow_unassigned": True},
        "weights": dict(DEFAULT_WEIGHTS),
    }  # fmt: skip


# ---- infeasible: two planted, independent conflicts -----------------------------------------


def infeasible_round() -> Data:
    """Six pharmacists, six placements, every seat needed: two planted conflicts (README).

    1. PH-0206 may travel 5 km and lives in Cranham: only two Upminster practices and the
       Upminster pharmacy are that close (two sectors), but the rules ask for three.
    2. Nobody may be unassigned, yet Queen's Hospital takes no one in R2, leaving five seats
       for six pharmacists who are all available.
    Either conflict alone makes the round infeasible; without both it is feasible.
    """
    hosts = (
        ("GP-HAV-101", "Upminster Bridge Surgery", "PCN-HAV-SOU", "general_practice",
         51.5585, 0.2490, 1, 0, 29),
        ("GP-HAV-102", "Cranham Village Surgery", "PCN-HAV-SOU", "general_practice",
         51.5650, 0.2650, 1, 0, 32),
        ("CP-HAV-101", "Upminster Pharmacy", "CPC-MERIDIAN", "community_pharmacy",
         51.5560, 0.2520, 1, 0, 30),
        ("HOSP-BHRUT-AMU", "Queen's Hospital, Acute Medical Unit", "BHRUT", "hospital",
         51.5686, 0.1794, {"R1": 1, "R2": 0, "R3": 1}, 1, 62),
        ("MH-NELFT-GOOD", "Goodmayes Hospital, Adult Acute Inpatients", "NELFT",
         "mental_health", 51.5758, 0.1124, 1, 2, 68),
        ("CS-NELFT-HAV", "Havering Intermediate Care, Romford", "NELFT", "community_services",
         51.5770, 0.1830, 1, 1, 52),
    )  # fmt: skip
    placements = [
        _placement(pid, name, org, None, sector, "Havering" if lon > 0.15 else "Redbridge",
                   lat, lon, cap, 0, htr, ph, None)
        for pid, name, org, sector, lat, lon, cap, htr, ph in hosts
    ]  # fmt: skip
    pharmacists: tuple[tuple[Any, ...], ...] = (
        ("PH-0201", "Bola Francis", 51.5750, 0.1850, None, False, 2, [], [], [],
         ["HOSP-BHRUT-AMU", "GP-HAV-101", "CS-NELFT-HAV"]),
        ("PH-0202", "Rahul Bhatt", 51.5600, 0.2180, None, True, 6, [], [], [],
         ["GP-HAV-102", "MH-NELFT-GOOD", "CP-HAV-101"]),
        ("PH-0203", "Laura Bennett", 51.5900, 0.2100, None, False, 1, [], [], [],
         ["CS-NELFT-HAV", "GP-HAV-101", "HOSP-BHRUT-AMU"]),
        ("PH-0204", "Omar Hassan", 51.5700, 0.1300, None, False, 3, [], [], [],
         ["MH-NELFT-GOOD", "GP-HAV-102", "HOSP-BHRUT-AMU"]),
        ("PH-0205", "Nia Thomas", 51.5550, 0.2000, None, True, 9, [], [], [],
         ["HOSP-BHRUT-AMU", "CP-HAV-101", "GP-HAV-101"]),
        ("PH-0206", "Ibrahim Yilmaz", 51.5560, 0.2620, 5, False, 4, [], [], [],
         ["GP-HAV-101", "CP-HAV-101", "HOSP-BHRUT-AMU"]),
    )  # fmt: skip
    return {
        "format": "spin-round/1",
        "round": {"id": "havering-infeasible", "name": "Havering round with planted conflicts",
                  "ics": "North East London"},
        "periods": _periods(("R1", "R2", "R3"), ("2027-01-04", "2027-05-03", "2027-08-30"), 17),
        "organisations": [
            {"id": "PCN-HAV-SOU", "name": "Hornchurch, Upminster and Rainham PCN",
             "kind": "pcn", "place": "Havering"},
            {"id": "CPC-MERIDIAN", "name": "Meridian Pharmacies", "kind": "community_pharmacy",
             "place": "Havering"},
            {"id": "BHRUT", "name": "Barking, Havering and Redbridge University Hospitals NHS "
             "Trust", "kind": "acute_trust", "place": "Havering"},
            {"id": "NELFT", "name": "North East London NHS Foundation Trust",
             "kind": "mental_health_and_community_trust", "place": "Redbridge"},
        ],
        "placements": placements,
        "pharmacists": [_pharmacist(row) for row in pharmacists],
        "rules": {"min_distinct_sectors": 3, "required_sectors": ["general_practice"],
                  "max_travel_km": 20, "max_preferences": 10, "allow_unassigned": False},
        "weights": dict(DEFAULT_WEIGHTS),
    }  # fmt: skip


# ---- writing ------------------------------------------------------------------------------

SAMPLES: dict[str, Callable[[], Data]] = {
    "nel-2027-c1.json": nel_round,
    "tiny.json": tiny_round,
    "single-stream.json": single_stream_round,
    "infeasible.json": infeasible_round,
}


def dumps(data: Data) -> str:
    """Stable JSON: top-level keys in order, one record per line in every list."""
    parts = []
    for key, value in data.items():
        if isinstance(value, list) and value:
            rows = ",\n".join("    " + json.dumps(v, ensure_ascii=False) for v in value)
            text = "[\n" + rows + "\n  ]"
        else:
            text = json.dumps(value, ensure_ascii=False)
        parts.append(f"  {json.dumps(key)}: {text}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


TABULAR_COPIES = ("nel-2027-c1.json",)
"""Samples also shipped as a CSV bundle (``<stem>-csv/``) and a workbook (``<stem>.xlsx``)."""


def write_samples(out: Path) -> list[Path]:
    """Validate and write every sample into ``out``; return the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for filename, build in SAMPLES.items():
        data = build()
        validate_round_data(data)  # raises, listing every problem, if a table is wrong
        path = out / filename
        path.write_text(dumps(data), encoding="utf-8")
        written.append(path)
        if filename in TABULAR_COPIES:
            # The same round as a planner would hold it: a CSV bundle and a workbook.
            rnd = parse_round(data)
            stem = filename.removesuffix(".json")
            for copy in (out / f"{stem}-csv", out / f"{stem}.xlsx"):
                save_round(rnd, copy, fmt="csv" if copy.suffix == "" else None)
                written.append(copy)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="directory to write into (default: data/samples)")  # fmt: skip
    args = parser.parse_args(argv)
    for path in write_samples(args.out):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
