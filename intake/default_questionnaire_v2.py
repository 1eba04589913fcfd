"""Version 2 of the upper back pain intake, exactly as ``shared/clinical/question-bank-v2.md``
sets it out.

Every version 1 question kept here has exactly its version 1 text, help text, choice labels and
choice values (see ``intake.default_questionnaire``); the new questions and the new choices of
version 1 questions use the patient-facing wording of the question bank.  ``pain_with_exertion``
is gone: ``pain_walking_or_stairs`` replaces it with a different meaning, so with a new code.

This is frozen data: the migration that publishes it (``0008_questionnaire_version_2``) reads
it, so it must not change.  Admins change the questionnaire by creating a new draft in the
admin, never by editing this file.  Each question is ``(code, type, text, options)``; codes and
choice values are a public contract.
"""

SLUG = "upper-back-pain"

TITLE = "Before your appointment: your upper back pain"
# Version 1 said "about five minutes" for 28 questions always shown; version 2 always shows 39
# (44 with every follow-up), so it says ten.
INTRODUCTION = (
    "Please answer these questions before you see your physiotherapist. It takes about ten "
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
                    ("upper_abdomen", "The top of your tummy, just below your ribs"),
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
            ("pain_abrupt_onset", BOOLEAN, "Did the pain start all at once, at its very worst "
             "within a minute?", {
                "required": True,
                "help_text": "Answer no if it built up over hours or days.",
            }),
            ("pain_worsening", BOOLEAN, "Is the pain getting steadily worse over time?", {
                "required": True,
            }),
            ("pain_limits_activity", BOOLEAN, "Does the pain stop you moving or doing everyday "
             "things?", {
                "required": True,
            }),
            ("pain_walking_or_stairs", BOOLEAN, "Does the pain start when you walk fast or go up "
             "stairs, and stop a few minutes after you rest?", {
                "required": True,
                "help_text": "Answer no if it only comes with sport, lifting, or moving your back "
                "or arms.",
            }),
            ("pain_unchanged_by_movement", BOOLEAN, "Does the pain stay the same when you move, "
             "change position or press on the sore spot?", {
                "required": True,
                "help_text": "Answer yes if nothing you do makes it better or worse.",
            }),
            ("pain_at_rest_or_night", BOOLEAN, "Is the pain there even when you keep still, or "
             "does it wake you up at night?", {
                "required": True,
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
                    ("tearing", "Tearing or ripping"),
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
            ("pain_after_meals", BOOLEAN, "Does the tummy pain come on after you eat, especially "
             "fatty food?", {
                "condition": ("pain_location", "upper_abdomen"),
            }),
            ("numbness_tingling", MULTI, "Do you have numbness, pins and needles or tingling?", {
                "required": True,
                "help_text": "Choose all that apply.",
                "choices": [
                    ("none", "No", {"is_exclusive": True}),
                    ("arms_hands", "Yes, in my arms or hands"),
                    ("legs_feet", "Yes, in my legs or feet"),
                    ("saddle", "Between your legs, or around your bottom or private parts"),
                    ("trunk_band", "In a band around your chest or tummy"),
                ],
            }),
            ("weakness_or_clumsiness", BOOLEAN, "Have your arms or legs become weak, or have you "
             "become clumsy or unsteady, since the pain started?", {
                "required": True,
                "help_text": "For example, dropping things, or being unsteady when you walk.",
            }),
            ("weakness_details", MULTI, "What is the weakness like? Tick all that apply.", {
                "condition": ("weakness_or_clumsiness", "true"),
                "choices": [
                    ("one_side_sudden", "It came on suddenly on one side of my body (face, arm "
                     "or leg)"),
                    ("both_legs", "Both my legs are weak"),
                    ("walking_difficulty", "I find it hard to walk or keep my balance"),
                    ("one_arm_or_hand", "One arm or hand is weak"),
                    ("one_leg", "One leg is weak"),
                    ("clumsy_hands", "My hands are clumsy (I drop things or struggle with "
                     "buttons)"),
                ],
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
            ("chest_and_leg_symptoms", MULTI, "Since this pain started, have you had any of "
             "these? Tick all that apply.", {
                "required": True,
                "choices": [
                    ("none", "None of these", {"is_exclusive": True}),
                    ("cough", "A new cough"),
                    ("coughing_blood", "Coughing up blood"),
                    ("pain_breathing_in", "Pain when you breathe in deeply"),
                    ("one_leg_swollen", "One leg swollen or painful, often the calf"),
                ],
            }),
            ("associated_symptoms", MULTI, "When you have the pain, do you also get any of these?",
             {
                "required": True,
                "help_text": "Choose all that apply.",
                "choices": [
                    ("none", "None of these", {"is_exclusive": True}),
                    ("dizziness", "Feeling dizzy or faint"),
                    ("nausea", "Feeling sick"),
                    ("sweating", "Breaking out in a sweat"),
                    ("vomiting", "Being sick (vomiting)"),
                ],
            }),
            ("thinks_heart", BOOLEAN, "Do you think this pain could be coming from your heart?", {
                "required": True,
                "help_text": "There is no wrong answer.",
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
            ("skin_rash", BOOLEAN, "Have you had a new rash or blisters on the skin where it "
             "hurts?", {"required": True}),
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
            ("heart_conditions", MULTI, "Heart and blood vessels: do any of these apply to you? "
             "Tick all that apply.", {
                "required": True,
                "help_text": "Only tick what a doctor has told you, or what you know about your "
                "family.",
                "choices": [
                    ("none", "None of these", {"is_exclusive": True}),
                    ("heart_disease", "Angina, a heart attack, or heart stents or a bypass"),
                    ("stroke_or_tia", "A stroke or a mini-stroke (TIA)"),
                    ("leg_artery_disease", "Poor blood flow in your legs (peripheral arterial "
                     "disease)"),
                    ("aortic_aneurysm", "A swollen or torn aorta (aortic aneurysm or "
                     "dissection), or an operation on your aorta"),
                    ("heart_valve_disease", "A heart valve problem, or a heart valve operation"),
                    ("connective_tissue_disorder", "Marfan, Ehlers-Danlos or Loeys-Dietz "
                     "syndrome"),
                    ("family_aortic_disease", "A parent, brother, sister or child has had a "
                     "swollen or torn aorta"),
                    ("blood_clot", "A blood clot in a leg or lung (DVT or pulmonary embolism)"),
                ],
            }),
            ("health_conditions", MULTI, "Do any of these apply to you? Tick all that apply.", {
                "required": True,
                "choices": [
                    ("none", "None of these", {"is_exclusive": True}),
                    ("high_blood_pressure", "High blood pressure"),
                    ("high_cholesterol", "High cholesterol"),
                    ("diabetes", "Diabetes"),
                    ("smoker", "You smoke, or you stopped less than a year ago"),
                    ("osteoporosis", "Thin, weak bones (osteoporosis), or you broke a bone in a "
                     "small fall or bump"),
                    ("weak_immune_system", "An illness that weakens your immune system, like "
                     "HIV, or an organ transplant"),
                ],
            }),
            ("medicines", MULTI, "Do you take any of these medicines? Tick all that apply.", {
                "required": True,
                "choices": [
                    ("none", "None of these", {"is_exclusive": True}),
                    ("blood_thinner", "A blood thinner: warfarin, apixaban, rivaroxaban, "
                     "edoxaban, dabigatran or heparin injections (not aspirin on its own)"),
                    ("steroid_tablets", "Steroid tablets, such as prednisolone, for 3 months or "
                     "more"),
                    ("immune_suppressant", "Medicine that lowers your immunity, such as "
                     "methotrexate, biologic injections, transplant medicine or chemotherapy"),
                    ("hormones_oestrogen", "The combined pill, a contraceptive patch or ring, or "
                     "HRT"),
                    ("tb_treatment", "Treatment for tuberculosis (TB)"),
                ],
            }),
            ("injects_drugs", BOOLEAN, "In the last 12 months, have you injected drugs that were "
             "not prescribed for you?", {
                "required": True,
                "help_text": "We ask everyone this question. Injecting can let germs into the "
                "blood, and they can cause an infection near the spine. Your answer is private: "
                "only your clinical team sees it.",
            }),
            ("recent_events", MULTI, "Do any of these apply to you? Tick all that apply.", {
                "required": True,
                "choices": [
                    ("none", "None of these", {"is_exclusive": True}),
                    ("surgery_or_bedbound", "In the last 4 weeks: an operation, or 3 days or more "
                     "in bed or unable to get about"),
                    ("spine_procedure", "In the last 3 months: an injection, operation or other "
                     "treatment on your back or neck"),
                    ("pregnant_or_recent_birth", "You are pregnant, or you had a baby in the "
                     "last 6 weeks"),
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
            ("trauma_mechanism", MULTI, "How did you hurt yourself? Tick all that apply.", {
                "condition": ("recent_trauma", "true"),
                "choices": [
                    ("fall_from_height", "A fall from higher than 1 metre (about 3 feet), or "
                     "down 5 or more stairs"),
                    ("high_speed_road_accident", "A road accident at high speed (60 mph or "
                     "more), a roll-over, or being thrown out of a vehicle"),
                    ("bike_horse_or_motor_sport", "A bike, horse-riding, motorbike or quad-bike "
                     "accident"),
                    ("heavy_impact", "Landing hard on your feet or bottom, or something heavy "
                     "falling on your head or back"),
                    ("other_road_accident", "Another road accident, at a lower speed"),
                    ("minor_fall_or_knock", "A slip, trip or fall from standing, or a bump or "
                     "knock"),
                ],
            }),
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


def create_version_2(Questionnaire, QuestionnaireVersion, Section, Question, Choice, *, number,
                     based_on):
    """Create version 2 from the data above as a draft numbered ``number`` whose ``based_on`` is
    ``based_on`` (the version it follows, or None), and return it; the caller publishes it.

    The questionnaire must exist.  Takes the model classes so that a data migration can pass its
    historical models.
    """
    questionnaire = Questionnaire.objects.get(slug=SLUG)
    version = QuestionnaireVersion.objects.create(
        questionnaire=questionnaire,
        number=number,
        title=TITLE,
        introduction=INTRODUCTION,
        based_on=based_on,
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
            Choice.objects.bulk_create(
                Choice(
                    question=question,
                    value=value,
                    label=label,
                    position=choice_position,
                    is_exclusive=bool(extra and extra[0].get("is_exclusive")),
                )
                for choice_position, (value, label, *extra) in enumerate(
                    options.get("choices", [])
                )
            )
    return version
