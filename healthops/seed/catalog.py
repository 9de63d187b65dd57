"""The demo network's reference data as plain values: sites, services, payers, rules, rooms, equipment, staff roster."""

from dataclasses import dataclass, field

NETWORK = ("HEARTLAND-NETWORK", "Heartland Regional Health", "(308) 555-0100")
PARTNER = ("PARTNER-PRAIRIE-HIE", "Prairie Health Information Exchange", "(402) 555-0170")

HOSPITAL, GRAND_ISLAND, HASTINGS, SCOTTSBLUFF, IMAGING = (
    "hrh-kearney", "clinic-grand-island", "clinic-hastings", "clinic-scottsbluff", "imaging-kearney")

# code, name, kind, time zone, address, phone area code
SITES = [
    (HOSPITAL, "Heartland Regional Hospital", "hospital", "America/Chicago", "3000 Central Ave, Kearney, NE 68847", "308"),
    (GRAND_ISLAND, "Grand Island Clinic", "clinic", "America/Chicago", "715 W 2nd St, Grand Island, NE 68801", "308"),
    (HASTINGS, "Hastings Clinic", "clinic", "America/Chicago", "120 N Lincoln Ave, Hastings, NE 68901", "402"),
    (SCOTTSBLUFF, "Scottsbluff Clinic", "clinic", "America/Denver", "1820 Broadway, Scottsbluff, NE 69361", "308"),
    (IMAGING, "Heartland Imaging Center", "imaging", "America/Chicago", "3112 Central Ave, Kearney, NE 68847", "308"),
]
SITE_CITY = {HOSPITAL: ("Kearney", "68847"), GRAND_ISLAND: ("Grand Island", "68801"), HASTINGS: ("Hastings", "68901"),
             SCOTTSBLUFF: ("Scottsbluff", "69361"), IMAGING: ("Kearney", "68847")}

DEPARTMENT_NAMES = {
    "radiology": "Radiology", "cardiology": "Cardiology", "orthopedics": "Orthopedics", "infusion": "Infusion Center",
    "sleep": "Sleep Center", "neurology": "Neurology", "dermatology": "Dermatology", "endocrinology": "Endocrinology",
    "rehab": "Rehabilitation", "primary-care": "Primary Care",
}
DEPARTMENTS = {
    HOSPITAL: ["radiology", "cardiology", "orthopedics", "infusion", "sleep", "neurology", "dermatology",
               "endocrinology", "rehab", "primary-care"],
    GRAND_ISLAND: ["primary-care", "dermatology", "cardiology", "endocrinology", "rehab"],
    HASTINGS: ["primary-care", "orthopedics", "infusion", "rehab", "endocrinology", "sleep"],
    SCOTTSBLUFF: ["primary-care", "orthopedics", "radiology", "rehab"],
    IMAGING: ["radiology"],
}

SPECIALTIES = {
    "cardiology": "Cardiology", "dermatology": "Dermatology", "orthopedics": "Orthopedics", "radiology": "Radiology",
    "infusion-therapy": "Infusion therapy", "physical-therapy": "Physical therapy", "sleep-medicine": "Sleep medicine",
    "endocrinology": "Endocrinology", "neurology": "Neurology", "family-medicine": "Family medicine",
}
CREDENTIAL_KINDS = {
    "state-license": "State license", "dea": "DEA registration", "bls": "Basic life support (BLS)",
    "acls": "Advanced cardiac life support (ACLS)", "mri-safety": "MRI safety (Level 2)",
    "radiology-cert": "Radiography certification (ARRT)", "rdms": "Diagnostic medical sonography (RDMS)",
    "iv-therapy": "IV therapy certification", "pt-license": "Physical therapy license",
}
ROOM_KINDS = {
    "exam-room": "Exam room", "mri-suite": "Imaging suite (MRI)", "ct-room": "CT room",
    "ultrasound-room": "Ultrasound room", "xray-room": "X-ray room", "echo-lab": "Echocardiography lab",
    "procedure-room": "Procedure room", "infusion-bay": "Infusion bay", "therapy-gym": "Therapy gym",
    "sleep-lab": "Sleep lab", "education-room": "Education room",
}
EQUIPMENT_KINDS = {
    "mri-scanner": "MRI scanner", "ct-scanner": "CT scanner", "ultrasound-machine": "Ultrasound machine",
    "xray-unit": "X-ray unit", "echo-machine": "Echocardiography machine", "ecg-machine": "ECG machine",
    "treadmill": "Stress test treadmill", "dermatoscope": "Dermatoscope", "infusion-chair": "Infusion chair",
    "sleep-study-kit": "Sleep study kit (polysomnography)",
}
DOCUMENT_KINDS = {
    "referral-letter": "Referral letter", "clinical-notes": "Clinical notes", "imaging-order": "Imaging order",
    "lab-results": "Lab results", "insurance-card": "Insurance card", "consent-form": "Consent form",
}


@dataclass(frozen=True)
class Service:
    code: str
    name: str
    specialty: str
    minutes: int
    role: str
    staff_specialty: str | None
    credential: str | None
    room_kind: str | None
    equipment: tuple[str, ...] = ()
    auto_book: bool = False
    notice: int = 24
    documents: tuple[str, ...] = ()
    capacity: int = 1
    department: str = "primary-care"
    reasons: tuple[str, ...] = field(default=(), compare=False)


S = Service
SERVICES = [
    S("mri-brain", "MRI brain without contrast", "radiology", 45, "radiology-tech", None, "mri-safety", "mri-suite",
      ("mri-scanner",), True, 48, ("imaging-order",), department="radiology",
      reasons=("Recurrent headaches, rule out structural lesion", "New-onset seizure", "Follow-up of known meningioma")),
    S("mri-knee", "MRI knee without contrast", "radiology", 40, "radiology-tech", None, "mri-safety", "mri-suite",
      ("mri-scanner",), True, 48, ("imaging-order",), department="radiology",
      reasons=("Suspected meniscal tear after twisting injury", "Persistent knee effusion, ACL laxity")),
    S("mri-lumbar-spine", "MRI lumbar spine without contrast", "radiology", 45, "radiology-tech", None, "mri-safety",
      "mri-suite", ("mri-scanner",), True, 48, ("imaging-order",), department="radiology",
      reasons=("Low back pain with radiculopathy over six weeks", "Progressive leg weakness")),
    S("ct-abdomen", "CT abdomen and pelvis with contrast", "radiology", 30, "radiology-tech", None, "radiology-cert",
      "ct-room", ("ct-scanner",), True, 24, ("imaging-order",), department="radiology",
      reasons=("Right lower quadrant pain", "Staging, known colorectal cancer", "Unexplained weight loss")),
    S("ct-chest", "CT chest without contrast", "radiology", 20, "radiology-tech", None, "radiology-cert", "ct-room",
      ("ct-scanner",), True, 24, ("imaging-order",), department="radiology",
      reasons=("Pulmonary nodule follow-up", "Lung cancer screening, 30 pack-years")),
    S("us-abdomen", "Ultrasound abdomen", "radiology", 30, "sonographer", None, "rdms", "ultrasound-room",
      ("ultrasound-machine",), True, 24, department="radiology",
      reasons=("Elevated liver enzymes", "Right upper quadrant pain, suspected gallstones")),
    S("us-pelvis", "Ultrasound pelvis", "radiology", 30, "sonographer", None, "rdms", "ultrasound-room",
      ("ultrasound-machine",), True, 24, department="radiology",
      reasons=("Pelvic pain", "Abnormal uterine bleeding")),
    S("xray-chest", "Chest X-ray, two views", "radiology", 15, "radiology-tech", None, "radiology-cert", "xray-room",
      ("xray-unit",), True, 2, department="radiology", reasons=("Persistent cough", "Pre-operative chest film")),
    S("echo", "Transthoracic echocardiogram", "cardiology", 45, "sonographer", "cardiology", "rdms", "echo-lab",
      ("echo-machine",), True, 24, department="cardiology",
      reasons=("New heart murmur", "Dyspnea on exertion, assess ejection fraction")),
    S("ecg", "12-lead ECG", "cardiology", 15, "medical-assistant", None, None, "exam-room", ("ecg-machine",), True, 2,
      department="cardiology", reasons=("Palpitations", "Pre-operative ECG")),
    S("cardiology-new-consult", "Cardiology new patient consult", "cardiology", 45, "physician", "cardiology",
      "state-license", "exam-room", (), False, 24, ("referral-letter", "clinical-notes"), department="cardiology",
      reasons=("Atrial fibrillation, new diagnosis", "Chest pain on exertion", "Uncontrolled hypertension")),
    S("cardiology-followup", "Cardiology follow-up", "cardiology", 20, "physician", "cardiology", "state-license",
      "exam-room", (), True, 24, department="cardiology", reasons=("Follow-up after echo", "Medication review")),
    S("stress-test", "Exercise stress test", "cardiology", 60, "physician", "cardiology", "acls", "procedure-room",
      ("ecg-machine", "treadmill"), False, 72, ("clinical-notes", "consent-form"), department="cardiology",
      reasons=("Exertional chest pain, intermediate risk", "Pre-operative risk assessment")),
    S("derm-consult", "Dermatology consult", "dermatology", 30, "physician", "dermatology", "state-license",
      "exam-room", ("dermatoscope",), False, 48, ("referral-letter",), department="dermatology",
      reasons=("Changing pigmented lesion", "Severe psoriasis not controlled on topicals")),
    S("derm-biopsy", "Skin biopsy", "dermatology", 30, "physician", "dermatology", "state-license", "procedure-room",
      (), False, 72, ("consent-form", "clinical-notes"), department="dermatology",
      reasons=("Suspicious lesion on the back", "Non-healing lesion on the nose")),
    S("ortho-new-consult", "Orthopedics new patient consult", "orthopedics", 40, "physician", "orthopedics",
      "state-license", "exam-room", (), False, 24, ("referral-letter", "clinical-notes"), department="orthopedics",
      reasons=("Hip osteoarthritis, considering replacement", "Rotator cuff tear on MRI")),
    S("ortho-followup", "Orthopedics follow-up", "orthopedics", 20, "physician", "orthopedics", "state-license",
      "exam-room", (), True, 24, department="orthopedics", reasons=("Post-operative check", "Fracture follow-up")),
    S("pt-eval", "Physical therapy evaluation", "physical-therapy", 60, "therapist", "physical-therapy", "pt-license",
      "therapy-gym", (), True, 24, department="rehab",
      reasons=("Rehabilitation after knee arthroscopy", "Chronic low back pain", "Balance problems, falls")),
    S("pt-session", "Physical therapy session", "physical-therapy", 45, "therapist", "physical-therapy", "pt-license",
      "therapy-gym", (), True, 12, department="rehab", reasons=("Continuing plan of care",)),
    S("infusion-iron", "Iron infusion", "infusion-therapy", 120, "nurse", None, "iv-therapy", "infusion-bay",
      ("infusion-chair",), True, 48, department="infusion",
      reasons=("Iron deficiency anemia, oral iron not tolerated", "Iron deficiency in chronic kidney disease")),
    S("infusion-biologic", "Biologic infusion", "infusion-therapy", 180, "nurse", None, "iv-therapy", "infusion-bay",
      ("infusion-chair",), False, 72, ("clinical-notes", "lab-results"), department="infusion",
      reasons=("Crohn's disease, infliximab maintenance", "Rheumatoid arthritis, rituximab")),
    S("sleep-study", "Overnight sleep study (polysomnography)", "sleep-medicine", 480, "therapist", "sleep-medicine",
      None, "sleep-lab", ("sleep-study-kit",), False, 72, ("clinical-notes",), department="sleep",
      reasons=("Suspected obstructive sleep apnea, loud snoring", "Daytime sleepiness, Epworth 16")),
    S("sleep-consult", "Sleep medicine consult", "sleep-medicine", 40, "physician", "sleep-medicine", "state-license",
      "exam-room", (), False, 24, department="sleep", reasons=("Insomnia", "CPAP intolerance")),
    S("diabetes-education-group", "Diabetes self-management education (group)", "endocrinology", 90, "nurse",
      "endocrinology", None, "education-room", (), True, 24, capacity=8, department="endocrinology",
      reasons=("Newly diagnosed type 2 diabetes", "HbA1c above 9 percent")),
    S("endo-new-consult", "Endocrinology new patient consult", "endocrinology", 40, "physician", "endocrinology",
      "state-license", "exam-room", (), False, 24, ("referral-letter", "lab-results"), department="endocrinology",
      reasons=("Thyroid nodule", "Type 1 diabetes, transfer of care")),
    S("neuro-consult", "Neurology consult", "neurology", 45, "physician", "neurology", "state-license", "exam-room", (),
      False, 48, ("referral-letter", "clinical-notes"), department="neurology",
      reasons=("Migraine not responding to treatment", "Peripheral neuropathy")),
    S("wellness-visit", "Annual wellness visit", "family-medicine", 30, "nurse-practitioner", None, "state-license",
      "exam-room", (), True, 24, reasons=("Annual wellness visit",)),
    S("pcp-new-patient", "Primary care new patient visit", "family-medicine", 40, "physician", "family-medicine",
      "state-license", "exam-room", (), False, 24, reasons=("Establish care", "Transfer of care after move")),
]
SERVICE_BY_CODE = {s.code: s for s in SERVICES}


def referral_weight(service: Service) -> int:
    """How often the service is referred: plenty of imaging, fewer long infusions and overnight studies, and enough
    group education to fill a few sessions."""
    if service.capacity > 1:
        return 8
    return 1 if service.minutes >= 120 else 3 if service.code.startswith(("mri", "ct", "us", "xray")) else 2


# identifier, name, sandbox key, phone
PAYERS = [
    ("PAYER-BLUESHIELD", "BlueShield Heartland", "blueshield", "(800) 555-0141"),
    ("PAYER-MEDICARE", "Medicare Part B (demo MAC)", "medicare", "(800) 555-0142"),
    ("PAYER-MEDICAID", "Heartland Medicaid", "medicaid", "(800) 555-0143"),
    ("PAYER-UNITEDCARE", "UnitedCare Health Plans", "unitedcare", "(800) 555-0144"),
    ("PAYER-PRAIRIE", "Prairie Mutual Insurance", "prairie", "(800) 555-0145"),
    ("PAYER-SUMMIT", "Summit Health Plan", "summit", "(800) 555-0146"),
]
PAYER_WEIGHTS = [30, 22, 16, 14, 10, 8]

# Prior authorization: these services need it with every payer; a few more with some payers only.
AUTH_ALWAYS = {"mri-brain", "mri-knee", "mri-lumbar-spine", "ct-abdomen", "infusion-iron", "infusion-biologic",
               "sleep-study", "stress-test"}
AUTH_BY_PAYER = {
    "PAYER-BLUESHIELD": {"ct-chest"}, "PAYER-MEDICAID": {"ct-chest", "pt-eval", "derm-biopsy"},
    "PAYER-UNITEDCARE": {"ct-chest", "pt-eval", "echo"}, "PAYER-PRAIRIE": {"ct-chest"},
    "PAYER-SUMMIT": {"ct-chest", "derm-biopsy"}, "PAYER-MEDICARE": set(),
}
# Documents a payer wants on top of the service's own.
PAYER_DOCUMENTS = {
    ("PAYER-BLUESHIELD", "mri-brain"): ("clinical-notes",), ("PAYER-BLUESHIELD", "mri-knee"): ("clinical-notes",),
    ("PAYER-BLUESHIELD", "mri-lumbar-spine"): ("clinical-notes",),
    ("PAYER-BLUESHIELD", "infusion-biologic"): ("consent-form",),
    ("PAYER-MEDICAID", "derm-consult"): ("insurance-card",), ("PAYER-MEDICAID", "neuro-consult"): ("insurance-card",),
    ("PAYER-UNITEDCARE", "sleep-study"): ("referral-letter",),
    ("PAYER-PRAIRIE", "ct-abdomen"): ("lab-results",), ("PAYER-PRAIRIE", "ortho-new-consult"): ("imaging-order",),
    ("PAYER-SUMMIT", "stress-test"): ("lab-results",),
}
PAYER_NOTES = {
    "infusion-iron": "Submit with the latest ferritin and hemoglobin.", "sleep-study": "Home study first unless contraindicated.",
    "mri-lumbar-spine": "Six weeks of conservative care must be documented.",
}


def prior_auth_required(payer_identifier: str, service_code: str) -> bool:
    return service_code in AUTH_ALWAYS or service_code in AUTH_BY_PAYER.get(payer_identifier, set())


def payer_documents(payer_identifier: str, service_code: str) -> tuple[str, ...]:
    return PAYER_DOCUMENTS.get((payer_identifier, service_code), ())


# NPI base, name, phone area, practitioners (given, family)
PRACTICES = [
    (101, "Platte Valley Family Medicine", "308", [("Helen", "Marsh"), ("David", "Okonkwo"), ("Rita", "Sandoval")]),
    (102, "Buffalo County Internal Medicine", "308", [("George", "Lindgren"), ("Anika", "Shah")]),
    (103, "Sandhills Family Practice", "308", [("Martin", "Ruiz"), ("Ingrid", "Holm")]),
    (104, "Prairie Pediatrics", "402", [("Lucy", "Tran"), ("Owen", "Fitzgerald")]),
    (105, "Loup River Primary Care", "308", [("Naomi", "Berg"), ("Victor", "Adeyemi"), ("Clara", "Weiss")]),
    (106, "Central Plains Women's Health", "402", [("Irene", "Kovac"), ("Sunita", "Rao")]),
    (107, "Wildcat Hills Family Clinic", "308", [("Ethan", "Cole"), ("Marisol", "Reyes")]),
    (108, "Tri-Cities Occupational Health", "402", [("Frank", "Dvorak"), ("Janet", "Mbeki")]),
]

# Rooms: site -> [(name, kind)]. Equipment: site -> [(name, kind, room name or None for portable)].
ROOMS = {
    HOSPITAL: [("Exam 1", "exam-room"), ("Exam 2", "exam-room"), ("Exam 3", "exam-room"), ("Exam 4", "exam-room"),
               ("MRI Suite", "mri-suite"), ("CT Room", "ct-room"), ("Ultrasound Room", "ultrasound-room"),
               ("X-ray Room", "xray-room"), ("Echo Lab", "echo-lab"), ("Stress Lab", "procedure-room"),
               ("Procedure Room", "procedure-room"), ("Infusion Bay 1", "infusion-bay"),
               ("Infusion Bay 2", "infusion-bay"), ("Infusion Bay 3", "infusion-bay"),
               ("Infusion Bay 4", "infusion-bay"), ("Sleep Lab 1", "sleep-lab"), ("Sleep Lab 2", "sleep-lab"),
               ("Therapy Gym", "therapy-gym"), ("Education Room", "education-room")],
    GRAND_ISLAND: [("Exam 1", "exam-room"), ("Exam 2", "exam-room"), ("Exam 3", "exam-room"), ("Exam 4", "exam-room"),
                   ("Procedure Room", "procedure-room"), ("Therapy Gym", "therapy-gym"),
                   ("Education Room", "education-room")],
    HASTINGS: [("Exam 1", "exam-room"), ("Exam 2", "exam-room"), ("Exam 3", "exam-room"),
               ("Infusion Bay 1", "infusion-bay"), ("Infusion Bay 2", "infusion-bay"), ("Therapy Gym", "therapy-gym")],
    SCOTTSBLUFF: [("Exam 1", "exam-room"), ("Exam 2", "exam-room"), ("Exam 3", "exam-room"),
                  ("Ultrasound Room", "ultrasound-room"), ("X-ray Room", "xray-room"), ("Therapy Gym", "therapy-gym")],
    IMAGING: [("MRI Suite 1", "mri-suite"), ("MRI Suite 2", "mri-suite"), ("CT Room 1", "ct-room"),
              ("CT Room 2", "ct-room"), ("Ultrasound Room 1", "ultrasound-room"),
              ("Ultrasound Room 2", "ultrasound-room"), ("X-ray Room", "xray-room")],
}
EQUIPMENT = {
    HOSPITAL: [("MRI Scanner 1.5T", "mri-scanner", "MRI Suite"), ("CT Scanner 64-slice", "ct-scanner", "CT Room"),
               ("Ultrasound Machine", "ultrasound-machine", "Ultrasound Room"), ("X-ray Unit", "xray-unit", "X-ray Room"),
               ("Echo Machine", "echo-machine", "Echo Lab"), ("ECG Cart 1", "ecg-machine", None),
               ("ECG Cart 2", "ecg-machine", "Stress Lab"), ("Treadmill", "treadmill", "Stress Lab"),
               ("Dermatoscope", "dermatoscope", None), ("Infusion Chair 1", "infusion-chair", "Infusion Bay 1"),
               ("Infusion Chair 2", "infusion-chair", "Infusion Bay 2"),
               ("Infusion Chair 3", "infusion-chair", "Infusion Bay 3"),
               ("Infusion Chair 4", "infusion-chair", "Infusion Bay 4"),
               ("Sleep Study Kit 1", "sleep-study-kit", "Sleep Lab 1"),
               ("Sleep Study Kit 2", "sleep-study-kit", "Sleep Lab 2")],
    GRAND_ISLAND: [("ECG Cart", "ecg-machine", None), ("Dermatoscope", "dermatoscope", None)],
    HASTINGS: [("ECG Cart", "ecg-machine", None), ("Infusion Chair 1", "infusion-chair", "Infusion Bay 1"),
               ("Infusion Chair 2", "infusion-chair", "Infusion Bay 2")],
    SCOTTSBLUFF: [("Ultrasound Machine", "ultrasound-machine", "Ultrasound Room"), ("X-ray Unit", "xray-unit", "X-ray Room")],
    IMAGING: [("MRI Scanner 3T", "mri-scanner", "MRI Suite 1"), ("MRI Scanner 1.5T", "mri-scanner", "MRI Suite 2"),
              ("CT Scanner 128-slice", "ct-scanner", "CT Room 1"), ("CT Scanner 64-slice", "ct-scanner", "CT Room 2"),
              ("Ultrasound Machine 1", "ultrasound-machine", "Ultrasound Room 1"),
              ("Ultrasound Machine 2", "ultrasound-machine", "Ultrasound Room 2"),
              ("X-ray Unit", "xray-unit", "X-ray Room")],
}

# Shift patterns: weekday (Mon=0) -> (start "HH:MM", end "HH:MM"); an end before the start ends the next morning.
WEEKDAYS = range(5)
PATTERNS = {
    "day": {d: ("08:00", "16:30") for d in WEEKDAYS},
    "early": {d: ("07:00", "15:30") for d in WEEKDAYS},
    "late": {d: ("10:30", "19:00") for d in WEEKDAYS},
    "evening": {d: ("13:30", "22:00") for d in WEEKDAYS},
    "weekend": {2: ("08:00", "16:30"), 3: ("08:00", "16:30"), 4: ("08:00", "16:30"), 5: ("08:00", "16:00"),
                6: ("08:00", "16:00")},
    "night": {d: ("19:00", "07:00") for d in (6, 0, 1, 2, 3)},
}


@dataclass(frozen=True)
class StaffGroup:
    role: str
    specialties: tuple[str, ...]
    # One entry per member: the sites worked, in weekday rotation (Mon -> first, Tue -> second, ...), and a pattern.
    members: tuple[tuple[tuple[str, ...], str], ...]
    credentials: tuple[str, ...]
    department: str
    cost: tuple[int, int]


G = StaffGroup
STAFF_GROUPS = [
    G("physician", ("cardiology",), (((HOSPITAL, GRAND_ISLAND), "day"), ((GRAND_ISLAND, HOSPITAL), "day"),
                                     ((HOSPITAL,), "early")), ("state-license", "dea", "acls", "bls"), "cardiology", (165, 215)),
    G("physician", ("dermatology",), (((GRAND_ISLAND,), "day"), ((HOSPITAL, GRAND_ISLAND), "day")),
      ("state-license", "dea", "bls"), "dermatology", (150, 190)),
    G("physician", ("orthopedics",), (((HOSPITAL, HASTINGS), "day"), ((HASTINGS, HOSPITAL), "early"),
                                      ((SCOTTSBLUFF,), "day")), ("state-license", "dea", "bls"), "orthopedics", (170, 230)),
    G("physician", ("sleep-medicine",), (((HOSPITAL,), "day"), ((HASTINGS, HOSPITAL), "day")),
      ("state-license", "dea", "bls"), "sleep", (150, 185)),
    G("physician", ("endocrinology",), (((GRAND_ISLAND,), "day"), ((HASTINGS, GRAND_ISLAND), "day")),
      ("state-license", "dea", "bls"), "endocrinology", (145, 180)),
    G("physician", ("neurology",), (((HOSPITAL,), "day"),), ("state-license", "dea", "bls"), "neurology", (160, 200)),
    G("physician", ("family-medicine",), (((GRAND_ISLAND,), "day"), ((SCOTTSBLUFF,), "day")),
      ("state-license", "dea", "bls"), "primary-care", (120, 150)),
    G("nurse-practitioner", ("family-medicine",), (((GRAND_ISLAND,), "late"), ((HASTINGS,), "day"),
                                                   ((SCOTTSBLUFF,), "day")), ("state-license", "bls"), "primary-care", (75, 95)),
    G("nurse", ("infusion-therapy",), (((HOSPITAL,), "early"), ((HOSPITAL,), "late"), ((HASTINGS,), "day"),
                                       ((HASTINGS,), "day")), ("state-license", "iv-therapy", "bls", "acls"), "infusion",
      (48, 62)),
    G("nurse", ("endocrinology",), (((GRAND_ISLAND,), "day"), ((HOSPITAL,), "day")), ("state-license", "bls"),
      "endocrinology", (45, 58)),
    G("radiology-tech", ("radiology",), (((IMAGING,), "day"), ((IMAGING,), "evening"), ((IMAGING,), "weekend"),
                                         ((HOSPITAL,), "day")), ("radiology-cert", "mri-safety", "bls"), "radiology", (42, 55)),
    G("radiology-tech", ("radiology",), (((IMAGING,), "early"), ((IMAGING,), "evening"), ((HOSPITAL,), "day")),
      ("radiology-cert", "bls"), "radiology", (38, 50)),
    G("radiology-tech", ("radiology",), (((SCOTTSBLUFF,), "day"), ((HOSPITAL, IMAGING), "day")),
      ("radiology-cert", "bls"), "radiology", (34, 44)),
    G("sonographer", (), (((IMAGING,), "day"), ((SCOTTSBLUFF,), "day"), ((HOSPITAL, IMAGING), "day")),
      ("rdms", "bls"), "radiology", (40, 52)),
    G("sonographer", ("cardiology",), (((HOSPITAL,), "day"), ((HOSPITAL,), "early")), ("rdms", "bls"), "cardiology",
      (42, 54)),
    G("therapist", ("physical-therapy",), (((GRAND_ISLAND,), "day"), ((HASTINGS,), "day"), ((SCOTTSBLUFF,), "day"),
                                           ((HOSPITAL,), "late")), ("pt-license", "bls"), "rehab", (44, 56)),
    G("therapist", ("sleep-medicine",), (((HOSPITAL,), "night"), ((HOSPITAL,), "night")), ("bls",), "sleep", (36, 46)),
    G("medical-assistant", (), (((HOSPITAL,), "day"), ((GRAND_ISLAND,), "day"), ((HASTINGS,), "day")), ("bls",),
      "primary-care", (21, 27)),
]

# Demo users: username -> (group, title, sites; None = network-wide)
DEMO_PASSWORD = "healthops-demo"  # noqa: S105 (a published demo password, refused unless ALLOW_DEMO_USERS)
DEMO_USERS = {
    "coordinator": ("coordinator", "Care coordinator", (HOSPITAL, GRAND_ISLAND)),
    "scheduler": ("scheduler", "Scheduler", (HOSPITAL, GRAND_ISLAND, HASTINGS)),
    "authspecialist": ("authspecialist", "Authorization specialist", (HOSPITAL, HASTINGS)),
    "manager": ("manager", "Operations manager", None),
    "admin": ("admin", "Administrator", None),
    "coordinator2": ("coordinator", "Care coordinator (Scottsbluff)", (SCOTTSBLUFF,)),
}

SITE_KIND = {code: kind for code, _n, kind, _tz, _a, _p in SITES}

# Weekly templates for rooms and equipment, site-local: weekday -> [(start, end)]. Hospital and imaging centre run
# long days all week; clinics weekdays. Sleep labs are open overnight, as two windows either side of midnight
# (a template cannot cross midnight).
_LONG = [("06:30", "22:30")]
OPEN_HOURS = {
    "hospital": {d: _LONG if d < 5 else [("07:30", "17:00")] for d in range(7)},
    "imaging": {d: _LONG for d in range(7)},
    "clinic": {d: [("07:00", "19:30")] for d in range(5)},
    "sleep-lab": {d: [("00:00", "08:00"), ("18:00", "23:59:59.999999")] for d in range(7)},
}

# Planned downtime: (site, equipment name, days from the week's Monday, local start, local end, reason).
MAINTENANCE = [
    (IMAGING, "MRI Scanner 3T", 9, "06:30", "12:30", "Quarterly preventive maintenance"),
    (HOSPITAL, "CT Scanner 64-slice", -12, "06:30", "10:30", "X-ray tube replacement"),
    (HOSPITAL, "Echo Machine", 16, "13:00", "17:00", "Software update"),
]


def _nth_weekday(year: int, month: int, weekday: int, n: int):
    from datetime import date, timedelta

    first = date(year, month, 1)
    day = first + timedelta(days=(weekday - first.weekday()) % 7)
    if n > 0:
        return day + timedelta(weeks=n - 1)
    while (day + timedelta(weeks=1)).month == month:  # last one in the month
        day += timedelta(weeks=1)
    return day


_HOLIDAYS: dict[int, dict] = {}


def holidays(year: int) -> dict:
    """US federal holidays the clinics close for (the hospital and the imaging centre stay open)."""
    from datetime import date

    if year not in _HOLIDAYS:
        _HOLIDAYS[year] = {
            date(year, 1, 1): "New Year's Day", _nth_weekday(year, 5, 0, -1): "Memorial Day",
            date(year, 7, 4): "Independence Day", _nth_weekday(year, 9, 0, 1): "Labor Day",
            _nth_weekday(year, 11, 3, 4): "Thanksgiving Day", date(year, 12, 25): "Christmas Day",
        }
    return _HOLIDAYS[year]


def closed_on(site_code: str, day) -> bool:
    return SITE_KIND[site_code] == "clinic" and day in holidays(day.year)
