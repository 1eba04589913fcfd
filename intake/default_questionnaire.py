"""Version 1 of the upper back pain intake, exactly as ``shared/clinical/question-bank.md`` sets
it out, in patient-facing words written from the clinic's article.

This is frozen data: the migration that publishes it reads it, so it must not change.  Admins
change the questionnaire by creating a new draft in the admin, never by editing this file.
Each question is ``(code, type, text, options)``; codes and choice values are a public contract.
"""

SLUG = "upper-back-pain"
NAME = "Upper back pain intake"

TITLE = "Before your appointment: your upper back pain"
INTRODUCTION = (
    "Please answer these questions before you see your physiotherapist. It takes about five "
    "minutes. Your answers help us get ready for your appointment and spot anything that needs "
    "help sooner."
)

BOOLEAN = "boolean"
SINGLE = "single_choice"
MULTI = "multi_choice"
INTEGER = "integer"
TEXT = "text"

SECTIONS = [
    (
        "Your pain",
        [
            ("pain_location", MULTI, "Where is your pain?", {
                "required": True,
                "help_text": "Choose all that apply.",
                "choices": [
                    ("upper_back", "Upper back"),
                    ("between_shoulder_blades", "Between the shoulder blades"),
                    ("neck", "Neck"),
                    ("lower_back", "Lower back"),
                    ("ribs_side", "Around the side of the ribs"),
                ],
            }),
            ("pain_duration", SINGLE, "How long have you had this pain?", {
                "required": True,
                "choices": [
                    ("under_1_week", "Less than 1 week"),
                    ("1_to_3_weeks", "1 to 3 weeks"),
                    ("3_to_6_weeks", "3 to 6 weeks"),
                    ("6_to_12_weeks", "6 to 12 weeks"),
                    ("over_12_weeks", "More than 12 weeks"),
                ],
            }),
            ("pain_severity", INTEGER, "How bad has the pain been at its worst in the last 24 "
             "hours?", {
                "required": True,
                "help_text": "Pick a number from 0 to 10. 0 means no pain. 10 means the worst "
                "pain you can imagine.",
                "min_value": 0,
                "max_value": 10,
            }),
            ("pain_onset", SINGLE, "How did the pain start?", {
                "required": True,
                "choices": [
                    ("gradual", "Slowly, over time"),
                    ("after_strain", "After lifting, sport or a sudden movement"),
                    ("after_injury", "After a fall, an accident or a blow"),
                    ("sudden_no_cause", "Suddenly, for no reason I know of"),
                ],
            }),
            ("pain_worsening", BOOLEAN, "Is the pain getting steadily worse over time?", {
                "required": True,
            }),
            ("pain_limits_activity", BOOLEAN, "Does the pain stop you moving or doing everyday "
             "things?", {
                "required": True,
            }),
            ("pain_with_exertion", BOOLEAN, "Does the pain come on when you are active and go "
             "away when you rest?", {
                "required": True,
                "help_text": "For example, when you climb stairs, walk uphill or exercise.",
            }),
            ("pain_character", MULTI, "What does the pain feel like?", {
                "help_text": "Choose all that apply.",
                "choices": [
                    ("aching", "Aching or sore"),
                    ("sharp", "Sharp"),
                    ("burning", "Burning"),
                    ("stiffness", "Stiff"),
                    ("deep", "Deep inside"),
                    ("pressure", "Pressure or squeezing"),
                ],
            }),
            ("pain_worse_with_movement", BOOLEAN, "Is the pain worse when you move your back or "
             "shoulders?", {}),
            ("pain_radiates_to", MULTI, "Does the pain spread to any other part of your body?", {
                "required": True,
                "help_text": "Choose all that apply.",
                "choices": [
                    ("none", "No, it does not spread", {"is_exclusive": True}),
                    ("neck", "My neck"),
                    ("jaw", "My jaw"),
                    ("left_arm", "My left arm"),
                    ("right_arm", "My right arm"),
                    ("chest", "My chest"),
                    ("legs", "My legs"),
                ],
            }),
            ("numbness_tingling", MULTI, "Do you have numbness, pins and needles or tingling?", {
                "required": True,
                "help_text": "Choose all that apply.",
                "choices": [
                    ("none", "No", {"is_exclusive": True}),
                    ("arms_hands", "Yes, in my arms or hands"),
                    ("legs_feet", "Yes, in my legs or feet"),
                ],
            }),
            ("weakness_or_clumsiness", BOOLEAN, "Have your arms or legs become weak, or have you "
             "become clumsy or unsteady, since the pain started?", {
                "required": True,
                "help_text": "For example, dropping things, or being unsteady when you walk.",
            }),
            ("bladder_bowel_control", BOOLEAN, "Have you had new problems controlling or emptying "
             "your bladder or bowels?", {
                "required": True,
                "help_text": "For example, not being able to hold in your pee or poo, or not "
                "being able to pee.",
            }),
        ],
    ),
    (
        "Other symptoms",
        [
            ("chest_pain", BOOLEAN, "Do you have pain, pressure, tightness or discomfort in your "
             "chest?", {"required": True}),
            ("breathing_difficulty", BOOLEAN, "Are you finding it hard to breathe, or getting "
             "short of breath?", {"required": True}),
            ("associated_symptoms", MULTI, "When you have the pain, do you also get any of these?",
             {
                "required": True,
                "help_text": "Choose all that apply.",
                "choices": [
                    ("none", "None of these", {"is_exclusive": True}),
                    ("dizziness", "Feeling dizzy or faint"),
                    ("nausea", "Feeling sick"),
                    ("sweating", "Breaking out in a sweat"),
                ],
            }),
            ("fever_chills", BOOLEAN, "Do you have a high temperature, or feel hot and shivery?",
             {"required": True}),
            ("night_sweats", BOOLEAN, "Do you wake up at night soaked in sweat?",
             {"required": True}),
            ("unexplained_weight_loss", BOOLEAN, "Have you lost weight without trying?",
             {"required": True}),
            ("urinary_symptoms", BOOLEAN, "Are you peeing more often than usual, does it hurt to "
             "pee, or is there blood in your pee?", {"required": True}),
            ("jaundice", BOOLEAN, "Has your skin or the whites of your eyes turned yellow?",
             {"required": True}),
        ],
    ),
    (
        "Your health and daily life",
        [
            ("sex", SINGLE, "What sex were you registered at birth?", {
                "required": True,
                "help_text": "We ask because heart problems can show different signs in women "
                "and men.",
                "choices": [
                    ("female", "Female"),
                    ("male", "Male"),
                    ("intersex", "Intersex"),
                    ("prefer_not_to_say", "I would prefer not to say"),
                ],
            }),
            ("history_of_cancer", BOOLEAN, "Have you ever been told you have cancer?",
             {"required": True}),
            ("cancer_details", TEXT, "What kind of cancer was it, and when?", {
                "max_length": 500,
                "condition": ("history_of_cancer", "true"),
            }),
            ("recent_trauma", BOOLEAN, "In the last few weeks, have you had a fall, an accident "
             "or a blow to your back or chest?", {"required": True}),
            ("trauma_details", TEXT, "What happened?", {
                "max_length": 500,
                "condition": ("recent_trauma", "true"),
            }),
            ("treatments_tried", MULTI, "What have you tried for the pain so far?", {
                "help_text": "Choose all that apply.",
                "choices": [
                    ("none", "Nothing yet", {"is_exclusive": True}),
                    ("rest", "Rest"),
                    ("ice_or_heat", "Ice or heat"),
                    ("painkillers", "Painkillers"),
                    ("physiotherapy", "Physiotherapy"),
                    ("other", "Something else"),
                ],
            }),
            ("daily_posture", SINGLE, "What does most of your day look like?", {
                "choices": [
                    ("desk_sitting", "Sitting at a desk"),
                    ("standing", "Standing"),
                    ("manual_lifting", "Lifting or carrying things"),
                    ("repetitive_upper_body", "Doing the same arm or upper body movements again "
                     "and again"),
                    ("mixed", "A mix of these"),
                ],
            }),
            ("stress_level", INTEGER, "How stressed have you felt lately?", {
                "help_text": "Pick a number from 0 to 10. 0 means not stressed at all. 10 means "
                "the most stressed you have ever felt.",
                "min_value": 0,
                "max_value": 10,
            }),
            ("other_information", TEXT, "Is there anything else you would like your "
             "physiotherapist to know?", {"max_length": 2000}),
        ],
    ),
]


def create_default_version(Questionnaire, QuestionnaireVersion, Section, Question, Choice):
    """Create version 1 as a draft from the data above; the caller publishes it.

    Takes the model classes so that a data migration can pass its historical models.
    """
    questionnaire, _ = Questionnaire.objects.get_or_create(slug=SLUG, defaults={"name": NAME})
    version = QuestionnaireVersion.objects.create(
        questionnaire=questionnaire, number=1, title=TITLE, introduction=INTRODUCTION
    )
    for section_position, (section_title, questions) in enumerate(SECTIONS):
        section = Section.objects.create(
            version=version, title=section_title, position=section_position
        )
        for position, (code, type_, text, options) in enumerate(questions):
            condition_question, condition_answer = options.get("condition", ("", ""))
            question = Question.objects.create(
                version=version,
                section=section,
                code=code,
                type=type_,
                text=text,
                help_text=options.get("help_text", ""),
                required=options.get("required", False),
                min_value=options.get("min_value"),
                max_value=options.get("max_value"),
                max_length=options.get("max_length"),
                condition_question=condition_question,
                condition_answer=condition_answer,
                position=position,
            )
            for choice_position, (value, label, *extra) in enumerate(options.get("choices", [])):
                Choice.objects.create(
                    question=question,
                    value=value,
                    label=label,
                    position=choice_position,
                    is_exclusive=bool(extra and extra[0].get("is_exclusive")),
                )
    return version
