"""Version 2 of the default rule set, as ``shared/clinical/triage-rules-v2.md`` sets it out.

This is frozen data: the migration that creates rule set version 2 reads it, so it must not
change.  Admins change the rules by creating a new draft rule set in the admin, never by editing
this file.

It is written against version 2 of the default questionnaire (``intake.default_questionnaire_v2``)
and has three parts, in the order the specification gives them:

- ``DERIVED``: the derived values, computed in this order, each able to use the ones before it
  and the built-in ``age``.  A yes/no value is ``(name, title, CONDITION, condition,
  description)``; a score is ``(name, title, SCORE, items, description)`` with items
  ``(label, condition, points, basis)``, so its items and points are data a clinician reviews
  in the admin.
- ``RULES``: ``(code, title, category, tier, condition, explanation)``.  Where the specification
  defines a rule by another ("``cardiac_feature`` fires"), the condition spells that rule's
  condition out: a rule is evaluated on its own, never by looking at which other rules fired.
- ``FREE_TEXT_TERMS``: ``(group, terms)`` for ``free_text_mention``.
"""

from decimal import Decimal

QUESTIONNAIRE_SLUG = "upper-back-pain"
NOTES = (
    "Version 2 of the default rules, from the clinical specification (triage-rules-v2.md): "
    "derived values and validated scores (Marburg Heart Score, ADD-RS, PERC, Wells), 63 rules, "
    "the free-text check."
)

CONDITION = "condition"
SCORE = "score"
ANSWER = "answer"
PROXY = "proxy"

POSSIBLE_CARDIAC = "possible_cardiac"
VASCULAR = "vascular"
RESPIRATORY = "respiratory"
RED_FLAG = "red_flag"
INFECTION = "infection"
NERVE = "nerve"
ORGAN_REFERRED = "organ_referred"
FREE_TEXT = "free_text"

EMERGENCY = "emergency"
URGENT = "urgent"
SOON = "soon"


def _any_of(question: str, *choices: str) -> str:
    return "(" + " or ".join(f"'{choice}' in {question}" for choice in choices) + ")"


# "numbness_tingling is not none": something other than 'none' was chosen.
NUMBNESS = "[site for site in numbness_tingling if site != 'none'].length > 0"
# The condition of cardiac_feature: exactly one cardiac feature, and neither
# cardiac_multiple_features (two or more) nor cardiac_female_autonomic fires.
CARDIAC_FEATURE = "cardiac_features == 1 and not (sex != 'male' and autonomic)"

DERIVED = [
    ("autonomic", "Dizziness, nausea, sweating or vomiting", CONDITION,
     _any_of("associated_symptoms", "dizziness", "nausea", "sweating", "vomiting"),
     "Any of dizziness, nausea, sweating or vomiting with the pain."),
    ("chest", "Chest pain, or pain spreading to the chest", CONDITION,
     "chest_pain or 'chest' in pain_radiates_to",
     "Chest pain, or pain that spreads to the chest."),
    ("cardiac_features", "Cardiac features (0-3)", SCORE, [
        ("Pain spreads to the left arm", "'left_arm' in pain_radiates_to", 1, ANSWER),
        ("Dizziness, nausea, sweating or vomiting", "autonomic", 1, ANSWER),
        ("Pain with walking fast or stairs, easing with rest", "pain_walking_or_stairs", 1,
         ANSWER),
    ], "The three cardiac features of version 1, with the exertion question reworded."),
    ("thoracic", "Thoracic pain", CONDITION,
     _any_of("pain_location", "upper_back", "between_shoulder_blades", "ribs_side"),
     "Pain in the upper back, between the shoulder blades or around the side of the ribs."),
    ("upper_spine", "Thoracic or neck pain", CONDITION,
     "thoracic or 'neck' in pain_location", "Thoracic pain, or pain in the neck."),
    ("new_pain", "Pain for under 6 weeks", CONDITION,
     "pain_duration == 'under_1_week' or pain_duration == '1_to_3_weeks'"
     " or pain_duration == '3_to_6_weeks'",
     "The pain has lasted less than 6 weeks."),
    ("non_traumatic_onset", "Started without an injury or strain", CONDITION,
     "pain_onset == 'gradual' or pain_onset == 'sudden_no_cause'",
     "The pain came on gradually, or suddenly with no apparent cause."),
    ("neuro", "Numbness, tingling or weakness", CONDITION,
     f"{NUMBNESS} or weakness_or_clumsiness",
     "Any numbness or tingling, or new weakness or clumsiness."),
    ("trauma", "Recent injury", CONDITION,
     "recent_trauma or pain_onset == 'after_injury'",
     "A fall, accident or blow in the last few weeks, or pain that started after an injury."),
    ("dangerous_mechanism", "Dangerous mechanism of injury", CONDITION,
     _any_of("trauma_mechanism", "fall_from_height", "high_speed_road_accident",
             "bike_horse_or_motor_sport", "heavy_impact"),
     "NICE NG41 and the Canadian C-spine rule: a fall from over 1 metre or 5 stairs, a road "
     "accident at 60 mph or more, a bicycle, horse or motorbike accident, or an axial load."),
    ("known_vascular_disease", "Known vascular disease", CONDITION,
     _any_of("heart_conditions", "heart_disease", "stroke_or_tia", "leg_artery_disease"),
     "Angina, heart attack, stents or bypass; stroke or TIA; peripheral arterial disease "
     "(the Marburg Heart Score's known vascular disease)."),
    ("mhs_age_sex", "Age 55 or over (65 or over for women)", CONDITION,
     "age >= 65 or (sex != 'female' and age >= 55)",
     "The Marburg Heart Score's age and sex item: women 65 or over, everyone else 55 or over "
     "(the more sensitive threshold applies when sex is not recorded as female)."),
    ("marburg_heart_score", "Marburg Heart Score (0-5)", SCORE, [
        ("Age 55 or over (65 or over for women)", "mhs_age_sex", 1, ANSWER),
        ("Known vascular disease", "known_vascular_disease", 1, ANSWER),
        ("Pain worse with exercise (walking fast or stairs)", "pain_walking_or_stairs", 1,
         ANSWER),
        ("Pain not reproducible by palpation (the patient says moving or pressing does not "
         "change it)", "pain_unchanged_by_movement", 1, PROXY),
        ("Patient assumes the pain is from the heart", "thinks_heart", 1, ANSWER),
    ], "Bösner 2010: 0-2 low risk of coronary disease; 3 or more, consider urgent evaluation. "
       "Used only to raise urgency."),
    ("add_rs", "Aortic Dissection Detection Risk Score (0-3)", SCORE, [
        ("High-risk condition: aortic aneurysm, valve disease, Marfan-type syndrome or family "
         "history of aortic disease",
         _any_of("heart_conditions", "aortic_aneurysm", "heart_valve_disease",
                 "connective_tissue_disorder", "family_aortic_disease"), 1, ANSWER),
        ("High-risk pain: abrupt onset, tearing, or severe (8 or more out of 10)",
         "pain_abrupt_onset or 'tearing' in pain_character or pain_severity >= 8", 1, ANSWER),
        ("High-risk examination finding (proxy: sudden one-sided or both-leg weakness for a "
         "focal neurological deficit)",
         _any_of("weakness_details", "one_side_sudden", "both_legs"), 1, PROXY),
    ], "Rogers 2011: one point per category with any item; 2-3 is high risk of acute aortic "
       "syndrome. Pulse deficit, blood-pressure difference and murmur cannot be asked."),
    ("perc_items", "PERC items present (0-6 of 8)", SCORE, [
        ("Age 50 or over", "age >= 50", 1, ANSWER),
        ("Coughing up blood", "'coughing_blood' in chest_and_leg_symptoms", 1, ANSWER),
        ("One leg swollen (proxy for the examination finding)",
         "'one_leg_swollen' in chest_and_leg_symptoms", 1, PROXY),
        ("Recent surgery or trauma", "'surgery_or_bedbound' in recent_events or recent_trauma",
         1, ANSWER),
        ("Previous DVT or pulmonary embolism", "'blood_clot' in heart_conditions", 1, ANSWER),
        ("Oestrogen (contraception or HRT)", "'hormones_oestrogen' in medicines", 1, ANSWER),
    ], "Kline 2004: PE is ruled out only when all 8 items are negative; heart rate and oxygen "
       "saturation need measuring, so PERC is never fully negative here."),
    ("wells_points", "Wells score for PE (points)", SCORE, [
        ("Signs of DVT (proxy: one leg swollen or painful)",
         "'one_leg_swollen' in chest_and_leg_symptoms", 3, PROXY),
        ("Previous DVT or pulmonary embolism", "'blood_clot' in heart_conditions", 1.5, ANSWER),
        ("Surgery or immobility in the last 4 weeks", "'surgery_or_bedbound' in recent_events",
         1.5, ANSWER),
        ("Coughing up blood", "'coughing_blood' in chest_and_leg_symptoms", 1, ANSWER),
        ("Cancer (proxy: any history of cancer for active cancer)", "history_of_cancer", 1,
         PROXY),
    ], "NICE NG158 two-level Wells: more than 4 points, PE likely. Heart rate and 'PE the most "
       "likely diagnosis' need a clinician."),
    ("pe_trigger", "New pain with breathing pain or a swollen leg", CONDITION,
     "new_pain and non_traumatic_onset and "
     + _any_of("chest_and_leg_symptoms", "pain_breathing_in", "one_leg_swollen"),
     "New pain with no injury or strain, with pain on breathing in or one swollen leg."),
    ("cardiovascular_risk_factors", "Cardiovascular risk factors (0-4)", SCORE, [
        ("Age 55 or over (65 or over for women)", "mhs_age_sex", 1, ANSWER),
        ("High blood pressure", "'high_blood_pressure' in health_conditions", 1, ANSWER),
        ("High cholesterol", "'high_cholesterol' in health_conditions", 1, ANSWER),
        ("Smokes, or stopped less than a year ago", "'smoker' in health_conditions", 1, ANSWER),
    ], "Counted for high cardiovascular risk (two or more)."),
    ("high_cardiovascular_risk", "High cardiovascular risk", CONDITION,
     "known_vascular_disease or 'diabetes' in health_conditions"
     " or cardiovascular_risk_factors >= 2",
     "Known vascular disease, diabetes, or at least two of: the age/sex point, high blood "
     "pressure, high cholesterol, smoking."),
    ("infection_risk", "Spinal infection risk", CONDITION,
     "injects_drugs or "
     + _any_of("medicines", "steroid_tablets", "immune_suppressant", "tb_treatment")
     + " or 'spine_procedure' in recent_events or 'weak_immune_system' in health_conditions",
     "Injecting drugs, long-term steroids, immunosuppressants, TB treatment, a recent spinal "
     "procedure, or a condition that weakens immunity."),
    ("osteoporosis_risk", "Osteoporosis risk", CONDITION,
     "'osteoporosis' in health_conditions or 'steroid_tablets' in medicines",
     "Osteoporosis or a fragility fracture, or long-term steroid tablets."),
    ("malignancy_signs", "Malignancy signs (0-4)", SCORE, [
        ("History of cancer", "history_of_cancer", 1, ANSWER),
        ("Unexplained weight loss", "unexplained_weight_loss", 1, ANSWER),
        ("Night sweats", "night_sweats", 1, ANSWER),
        ("Pain getting worse", "pain_worsening", 1, ANSWER),
    ], "The four malignancy signs of version 1."),
    ("disabling_pain", "Severe pain that stops everyday activity", CONDITION,
     "pain_severity >= 7 and pain_limits_activity",
     "Pain of 7 or more out of 10 that stops the patient moving or doing everyday tasks."),
    ("thoracic_cluster_features", "Thoracic cluster features (0-8)", SCORE, [
        ("New pain with no injury or strain", "new_pain and non_traumatic_onset", 1, ANSWER),
        ("Pain getting worse", "pain_worsening", 1, ANSWER),
        ("Pain unchanged by moving or pressing", "pain_unchanged_by_movement", 1, ANSWER),
        ("Unexplained weight loss", "unexplained_weight_loss", 1, ANSWER),
        ("Night sweats", "night_sweats", 1, ANSWER),
        ("Severe pain that stops everyday activity", "disabling_pain", 1, ANSWER),
        ("Pressing pain", "'pressure' in pain_character", 1, ANSWER),
        ("Dizziness, nausea, sweating or vomiting", "autonomic", 1, ANSWER),
    ], "Features that, two together, page for a person over 50 with thoracic pain. Night or "
       "rest pain is deliberately not one of them (Harding 2005)."),
]

RULES = [
    # --- Possible cardiac ---
    ("cardiac_chest_pain", "Chest pain", POSSIBLE_CARDIAC, EMERGENCY, "chest",
     'chest discomfort with upper back pain can be angina or a heart attack ("Chest Pain")'),
    ("cardiac_breathing", "Difficulty breathing", POSSIBLE_CARDIAC, EMERGENCY,
     "breathing_difficulty",
     'trouble breathing with upper back pain may mean reduced blood flow to the heart '
     '("Breathing Issues"; also a listed red flag)'),
    ("cardiac_jaw", "Pain spreads to the jaw", POSSIBLE_CARDIAC, EMERGENCY,
     "'jaw' in pain_radiates_to",
     'heart pain may radiate to the upper back, neck or jaw ("Radiating Pain")'),
    ("cardiac_multiple_features", "Several heart-attack features", POSSIBLE_CARDIAC, EMERGENCY,
     "cardiac_features >= 2", "several heart-attack features together"),
    ("cardiac_female_autonomic", "Possible heart attack (woman, with autonomic symptoms)",
     POSSIBLE_CARDIAC, EMERGENCY, "sex != 'male' and autonomic",
     'upper back pain can be a heart-attack symptom, especially in women, with dizziness, '
     'nausea or sweating; where sex is unknown (intersex, prefer_not_to_say) the more '
     'sensitive reading applies'),
    ("cardiac_marburg_high", "Marburg Heart Score 3 or more", POSSIBLE_CARDIAC, EMERGENCY,
     "marburg_heart_score >= 3",
     "Marburg Heart Score 3 or more: intermediate or high risk of coronary disease, consider "
     "urgent evaluation (Bösner 2010); without an ECG or troponin that means A&E"),
    ("cardiac_unstable_pattern", "Exertional pain, worsening or at rest", POSSIBLE_CARDIAC,
     EMERGENCY, "pain_walking_or_stairs and (pain_worsening or pain_at_rest_or_night)",
     "new or worsening angina, or angina with little or no exertion, is an acute coronary "
     "syndrome (NICE CG95)"),
    ("cardiac_autonomic_risk", "Autonomic symptoms with high cardiovascular risk",
     POSSIBLE_CARDIAC, EMERGENCY, "autonomic and high_cardiovascular_risk",
     "pain with nausea, vomiting or sweating suggests an acute coronary syndrome; risk factors "
     "and known heart disease make a cardiac cause more likely (NICE CG95)"),
    ("cardiac_feature_risk", "Cardiac feature with age or risk factors", POSSIBLE_CARDIAC,
     URGENT,
     f"{CARDIAC_FEATURE} and (new_pain or pain_worsening)"
     " and (mhs_age_sex or high_cardiovascular_risk)",
     "one cardiac feature with recent or worsening pain, in a person whose age, sex or risk "
     "factors make a cardiac cause plausible (NICE CG95; Marburg age/sex item): same-day call; "
     "ask first whether the pain is there now"),
    ("cardiac_risk_new_pain", "New pain with high cardiovascular risk", POSSIBLE_CARDIAC,
     URGENT,
     "high_cardiovascular_risk and non_traumatic_onset and (pain_duration == 'under_1_week'"
     " or (new_pain and pain_worsening))",
     "back pain lasting over 15 minutes can be an acute coronary syndrome; atypical "
     "presentations are commoner in older people, women and people with diabetes (NICE CG95; "
     "ESC 2023): same-day call; ask first whether the pain is there now"),
    ("patient_thinks_heart", "Patient thinks it is their heart", POSSIBLE_CARDIAC, URGENT,
     "thinks_heart",
     "a patient who suspects their heart is owed a same-day conversation (a Marburg Heart "
     "Score item)"),
    ("cardiac_feature", "One heart-related feature", POSSIBLE_CARDIAC, SOON, CARDIAC_FEATURE,
     "one heart-related feature alone (such as arm pain, which is usually from a nerve) is "
     "common in back pain; reviewed before the appointment"),
    # --- Vascular ---
    ("aortic_add_rs_high", "Aortic dissection risk score 2 or more", VASCULAR, EMERGENCY,
     "add_rs >= 2",
     "ADD-RS 2-3: high probability of acute aortic syndrome, immediate imaging (Rogers 2011)"),
    ("abrupt_severe_pain", "Abrupt, severe pain with no cause", VASCULAR, EMERGENCY,
     "pain_abrupt_onset and pain_severity >= 7 and non_traumatic_onset",
     "pain at its worst within a minute, severe and without a cause: aortic dissection, spinal "
     "haemorrhage, heart attack or pancreatitis until proven otherwise"),
    ("tearing_pain", "Tearing or ripping pain", VASCULAR, EMERGENCY,
     "'tearing' in pain_character",
     "tearing or ripping pain is a high-risk feature of aortic dissection (ADD-RS; IRAD)"),
    ("known_aneurysm_new_pain", "Known aortic aneurysm with new or worse pain", VASCULAR,
     EMERGENCY, "'aortic_aneurysm' in heart_conditions and (new_pain or pain_worsening)",
     "new or worsening back pain with a known aneurysm: think of rupture (NICE NG156)"),
    ("stroke_sudden_one_side", "Sudden weakness on one side", VASCULAR, EMERGENCY,
     "'one_side_sudden' in weakness_details",
     "sudden weakness of the face, arm or leg on one side: stroke, call 999 (NICE NG128, FAST)"),
    ("pe_high_probability", "Pulmonary embolism likely", VASCULAR, EMERGENCY,
     "pe_trigger and (wells_points > 4 or 'pregnant_or_recent_birth' in recent_events)",
     "Wells score over 4, or pregnant or recently given birth, with new breathing pain or a "
     "swollen leg: pulmonary embolism likely, image immediately (NICE NG158)"),
    ("pe_not_ruled_out", "Pulmonary embolism not ruled out", VASCULAR, URGENT,
     "pe_trigger and perc_items >= 1",
     "new breathing pain or a swollen leg with a PERC item: PE is not ruled out, same-day "
     "assessment (Kline 2004; NICE NG158)"),
    # --- Respiratory ---
    ("haemoptysis", "Coughing up blood", RESPIRATORY, EMERGENCY,
     "'coughing_blood' in chest_and_leg_symptoms",
     "coughing up blood with chest or upper back pain: possible pulmonary embolism, call 999 "
     "(nhs.uk)"),
    ("pleuritic_infection", "Breathing pain with cough or fever", RESPIRATORY, URGENT,
     "'pain_breathing_in' in chest_and_leg_symptoms"
     " and ('cough' in chest_and_leg_symptoms or fever_chills)",
     "pain on breathing in with a cough or fever: possible pneumonia or pleurisy, same-day "
     "assessment (NICE NG138)"),
    ("pleuritic_pain", "Pain on breathing in", RESPIRATORY, SOON,
     "'pain_breathing_in' in chest_and_leg_symptoms",
     "pain on breathing in is usually from ribs and muscles, but PE, pneumothorax and pneumonia "
     "share it"),
    # --- Red flags ---
    ("cauda_equina", "Bladder or bowel problems", RED_FLAG, EMERGENCY, "bladder_bowel_control",
     'loss of bladder or bowel control with back pain may be cauda equina syndrome, a '
     'medical emergency'),
    ("saddle_numbness", "Numbness between the legs", RED_FLAG, EMERGENCY,
     "'saddle' in numbness_tingling",
     "altered sensation around the bottom or genitals: suspected cauda equina, emergency "
     "department now (GIRFT)"),
    ("cord_compression_signs", "Signs of spinal cord compression", RED_FLAG, EMERGENCY,
     "'trunk_band' in numbness_tingling or "
     + _any_of("weakness_details", "both_legs", "walking_difficulty"),
     "a band of numbness, weakness of both legs or difficulty walking: possible spinal cord "
     "compression, emergency MRI (NICE NG234; GIRFT)"),
    ("cancer_neuro", "Cancer with neurological symptoms", RED_FLAG, EMERGENCY,
     "history_of_cancer and (neuro or bladder_bowel_control)",
     "spinal pain with neurological symptoms in a person with cancer: metastatic spinal cord "
     "compression, contact the MSCC coordinator immediately (NICE NG234)"),
    ("anticoagulant_neuro", "Blood thinner with neurological symptoms", RED_FLAG, EMERGENCY,
     "'blood_thinner' in medicines and (neuro or bladder_bowel_control)"
     " and (new_pain or pain_worsening)",
     "new or worsening spinal pain with neurological symptoms on an anticoagulant: spinal "
     "epidural haematoma until an MRI says otherwise"),
    ("anticoagulant_sudden_severe", "Blood thinner with sudden severe pain", RED_FLAG,
     EMERGENCY,
     "'blood_thinner' in medicines and pain_onset == 'sudden_no_cause' and pain_severity >= 7",
     "sudden, unexplained severe pain on an anticoagulant: spinal epidural haematoma until an "
     "MRI says otherwise"),
    ("infection_with_neuro_signs", "Fever with neurological symptoms", RED_FLAG, EMERGENCY,
     "fever_chills and neuro",
     'fever with neurological symptoms: possible spinal infection or epidural abscess'),
    ("sudden_onset_severe", "Sudden pain with no cause, disabling or abrupt", RED_FLAG, URGENT,
     "pain_onset == 'sudden_no_cause' and (disabling_pain or pain_abrupt_onset)",
     "pain that came on suddenly without a cause and is disabling or reached its worst within "
     "a minute: spinal infection, ruptured disc, aortic causes"),
    ("neuro_weakness", "New weakness or clumsiness", RED_FLAG, URGENT, "weakness_or_clumsiness",
     'weakness or loss of coordination suggests nerve compression or damage'),
    ("fever", "Fever or chills", RED_FLAG, URGENT, "fever_chills",
     'fever or chills with back pain may mean infection'),
    ("trauma_high_risk", "Injury with a high-risk factor", RED_FLAG, URGENT,
     "trauma and (dangerous_mechanism or neuro"
     " or ((age >= 65 or osteoporosis_risk) and (disabling_pain or pain_worsening)))",
     "an injury with a dangerous mechanism, neurological symptoms, or age 65 or over or "
     "osteoporosis risk with disabling or worsening pain: possible fracture (NICE NG41; "
     "Canadian C-spine rule)"),
    ("malignancy_cluster", "Several cancer warning signs", RED_FLAG, URGENT,
     "malignancy_signs >= 2",
     'several cancer warning signs together (history of cancer, weight loss, night sweats,'
     ' worsening pain)'),
    ("cancer_spinal_pain", "Cancer with spinal pain", RED_FLAG, URGENT,
     "history_of_cancer and (upper_spine or pain_worsening or pain_at_rest_or_night"
     " or pain_severity >= 8)",
     "thoracic or neck pain, progressive, night or severe pain in a person with cancer: "
     "contact the MSCC coordinator within 24 hours (NICE NG234)"),
    ("age_over_50_thoracic_cluster", "Over 50, thoracic pain, two more features", RED_FLAG,
     URGENT, "age > 50 and thoracic and thoracic_cluster_features >= 2",
     "over 50 with thoracic pain and two more features: metastases, infection, fracture, "
     "aortic syndromes and atypical heart attack are possible; a same-day call (IFOMPT; "
     "Downie 2013; NICE NG234, CG95)"),
    ("anticoagulant_new_pain", "Blood thinner with new or worse pain", RED_FLAG, URGENT,
     "'blood_thinner' in medicines and (new_pain or pain_worsening)",
     "new or worsening spinal pain on an anticoagulant: a same-day check for neurological "
     "symptoms (spinal haematoma risk)"),
    ("non_mechanical_night_pain", "Constant pain, at rest or at night, new or worse",
     RED_FLAG, URGENT,
     "pain_unchanged_by_movement and pain_at_rest_or_night and (new_pain or pain_worsening)",
     "new or worsening pain that nothing changes and that is there at rest or at night: the "
     "pattern of visceral, infective or malignant pain (IFOMPT; NICE CKS)"),
    ("sudden_onset_pain", "Sudden pain with no cause", RED_FLAG, SOON,
     "pain_onset == 'sudden_no_cause'",
     "pain that came on suddenly without an apparent cause; reviewed before the appointment"),
    ("severe_disabling_pain", "Severe pain that stops everyday activity", RED_FLAG, SOON,
     "disabling_pain",
     'intense pain that limits movement or everyday tasks ("Severe Pain")'),
    ("age_over_50_thoracic_pain", "Over 50 with new or changing thoracic pain", RED_FLAG, SOON,
     "age > 50 and thoracic"
     " and ((new_pain and non_traumatic_onset) or pain_worsening or pain_at_rest_or_night)",
     "age over 50 with new, worsening or night thoracic pain is a risk feature for serious "
     "causes (IFOMPT); reviewed before the appointment"),
    ("recent_injury", "Recent injury", RED_FLAG, SOON, "trauma",
     "a recent injury without a high-risk factor; at 65 or over, or with osteoporosis risk, "
     "arrange imaging before treatment"),
    ("osteoporosis_risk", "Osteoporosis or long-term steroids", RED_FLAG, SOON,
     "osteoporosis_risk",
     "back pain with osteoporosis, a previous fragility fracture or long-term steroids: "
     "consider a vertebral fragility fracture"),
    ("night_pain", "Pain at rest or at night", RED_FLAG, SOON, "pain_at_rest_or_night",
     "night or rest pain (NICE NG234, IFOMPT); common on its own"),
    ("non_mechanical_pain", "Pain unchanged by movement", RED_FLAG, SOON,
     "pain_unchanged_by_movement",
     "pain that moving, position and pressing do not change (non-mechanical pain)"),
    ("neuro_numbness", "Numbness or tingling", RED_FLAG, SOON, NUMBNESS,
     'numbness or tingling in the arms or legs is a listed red flag'),
    ("cancer_history", "History of cancer", RED_FLAG, SOON, "history_of_cancer",
     'a history of cancer is a listed red flag'),
    ("weight_loss", "Unexplained weight loss", RED_FLAG, SOON, "unexplained_weight_loss",
     'unexplained weight loss may signal cancer or infection'),
    ("night_sweats", "Night sweats", RED_FLAG, SOON, "night_sweats",
     'night sweats are a listed red flag'),
    ("progressive_pain", "Pain getting worse", RED_FLAG, SOON, "pain_worsening",
     'pain that worsens over time is a listed red flag'),
    # --- Infection ---
    ("infection_risk_neuro", "Infection risk with neurological symptoms", INFECTION, EMERGENCY,
     "infection_risk and (neuro or bladder_bowel_control)",
     "an infection risk factor with neurological symptoms: possible spinal epidural abscess, "
     "emergency MRI (fever is often absent)"),
    ("infection_risk_new_pain", "Infection risk with new, worse or night pain", INFECTION,
     URGENT, "infection_risk and (new_pain or pain_worsening or pain_at_rest_or_night)",
     "an infection risk factor with new, worsening, rest or night pain: suspected spinal "
     "infection needs same-day assessment"),
    ("infection_risk_factor", "Spinal infection risk factor", INFECTION, SOON,
     "infection_risk", "an infection risk factor, reviewed even with long-standing pain"),
    ("shingles_immunocompromised", "Rash with weakened immunity", INFECTION, URGENT,
     "skin_rash and ('weak_immune_system' in health_conditions or "
     + _any_of("medicines", "steroid_tablets", "immune_suppressant") + ")",
     "possible shingles in a person with weakened immunity needs immediate specialist advice "
     "(NICE CKS)"),
    ("shingles_rash", "Rash or blisters where it hurts", INFECTION, SOON, "skin_rash",
     "possible shingles: antivirals work best within 72 hours; direct to a pharmacist or GP"),
    # --- Nerve and organ-referred ---
    ("radiating_arm_pain", "Pain spreads to an arm", NERVE, SOON,
     "'left_arm' in pain_radiates_to or 'right_arm' in pain_radiates_to",
     'pain travelling down the arm may be a pinched nerve or a disc in the neck'),
    ("radiating_leg_pain", "Pain spreads to the legs", NERVE, SOON, "'legs' in pain_radiates_to",
     'pain spreading to the legs suggests nerve involvement'),
    ("abdominal_pain_severe", "Severe or sudden upper tummy pain", ORGAN_REFERRED, EMERGENCY,
     "'upper_abdomen' in pain_location and (pain_severity >= 7 or pain_abrupt_onset)",
     "severe or very sudden upper abdominal pain: perforation, pancreatitis or aneurysm, A&E "
     "or 999 (nhs.uk)"),
    ("abdominal_pain_features", "Upper tummy pain with vomiting, fever or jaundice",
     ORGAN_REFERRED, URGENT,
     "'upper_abdomen' in pain_location and ('vomiting' in associated_symptoms or fever_chills"
     " or jaundice)",
     "possible acute cholecystitis or pancreatitis: same-day surgical assessment (NICE CKS)"),
    ("abdominal_pain", "Upper tummy pain", ORGAN_REFERRED, SOON,
     "'upper_abdomen' in pain_location",
     "gallbladder, pancreas and stomach pain can be felt in the upper back; see the answer on "
     "pain after meals"),
    ("kidney_symptoms", "Urinary symptoms", ORGAN_REFERRED, SOON, "urinary_symptoms",
     'kidney pain comes with urinary symptoms or blood in the urine'),
    ("jaundice", "Jaundice", ORGAN_REFERRED, URGENT, "jaundice",
     'liver or gallbladder pain may come with jaundice'),
    # --- Free text ---
    ("free_text_mention", "Read the patient's own words", FREE_TEXT, SOON, "free_text_match",
     "a listed word or phrase is in the patient's own text; matching cannot understand "
     "negation or context, so read the text"),
]

FREE_TEXT_TERMS = [
    ("heart or circulation", [
        "heart", "heart attack", "angina", "stent*", "bypass", "heart failure", "heart valve",
        "valve replacement", "atrial fibrillation", "af", "palpitation*", "heart racing",
        "racing heart", "stroke*", "mini stroke", "tia", "aneurysm*", "aort*", "marfan*",
        "ehlers danlos", "diabet*", "insulin", "metformin", "blood pressure", "hypertension",
        "cholesterol", "statin", "statins", "smok*", "cigarette*",
    ]),
    ("bleeding risk", [
        "warfarin", "apixaban", "rivaroxaban", "edoxaban", "dabigatran", "heparin",
        "enoxaparin", "clexane", "dalteparin", "acenocoumarol", "eliquis", "xarelto",
        "pradaxa", "lixiana", "blood thinner*", "anticoagula*",
    ]),
    ("infection risk", [
        "inject*", "heroin", "iv drug*", "needle*", "hiv", "immunosuppress*", "methotrexate",
        "biologic*", "transplant*", "chemo*", "steroid*", "prednisolone", "prednisone",
        "dexamethasone", "tuberculosis", "tb", "epidural",
    ]),
    ("cancer", [
        "cancer*", "tumour*", "tumor*", "lymphoma*", "leukaemia", "leukemia", "myeloma",
        "metasta*", "radiotherapy", "tamoxifen", "letrozole", "anastrozole",
    ]),
    ("lungs or clots", [
        "cough* blood", "cough* up blood", "blood in phlegm", "haemoptysis", "hemoptysis",
        "clot", "clots", "blood clot*", "dvt", "thrombos*", "embol*", "the pill",
        "contracepti*", "hrt", "pregnan*", "had a baby", "postpartum", "postnatal",
        "breathe in", "breathing in", "hurts to breathe", "breathless*", "short of breath",
    ]),
    ("nerves, bladder or bowel", [
        "numb between", "saddle", "wet myself", "incontinen*", "retention", "constipat*",
        "walker", "falling over", "unsteady", "paralys*", "cannot walk", "can t walk",
    ]),
    ("aorta-type pain", [
        "tearing", "ripping", "moving about", "moves about", "moves around", "keeps moving",
    ]),
    ("skin", ["rash*", "blister*", "shingles"]),
    ("bones", [
        "osteoporos*", "crush fracture*", "compression fracture*", "fragility fracture*",
        "alendron*", "brittle bones", "thin bones",
    ]),
    ("tummy", [
        "tummy", "stomach", "abdom*", "vomit*", "being sick", "been sick", "gallstone*",
        "gallbladder", "after eating", "after meals",
    ]),
    ("feeling unwell", [
        "fainted", "faint*", "collaps*", "exhausted", "fatigue*", "unusually tired",
    ]),
]


def create_rule_set_version_2(models, *, questionnaire_version, number, now):
    """Create rule set version ``number`` from the data above, active, checked against
    ``questionnaire_version``.  ``models`` maps model names (RuleSet, Rule, DerivedValue,
    ScoreItem, FreeTextTerm) to classes, so that a data migration can pass its historical
    models.  The caller retires the rule set it replaces."""
    rule_set = models["RuleSet"].objects.create(
        questionnaire_id=questionnaire_version.questionnaire_id,
        questionnaire_version=questionnaire_version,
        version=number, status="active", notes=NOTES, created_at=now, activated_at=now,
    )
    for position, (name, title, kind, definition, description) in enumerate(DERIVED):
        value = models["DerivedValue"].objects.create(
            rule_set=rule_set, name=name, title=title, kind=kind, position=position,
            condition=definition if kind == CONDITION else "", description=description,
        )
        if kind == SCORE:
            models["ScoreItem"].objects.bulk_create(
                models["ScoreItem"](derived_value=value, label=label, condition=condition,
                                    points=Decimal(str(points)), basis=basis,
                                    position=item_position)
                for item_position, (label, condition, points, basis) in enumerate(definition)
            )
    models["Rule"].objects.bulk_create(
        models["Rule"](rule_set=rule_set, code=code, title=title, category=category, tier=tier,
                       condition=condition, explanation=explanation, enabled=True,
                       position=position)
        for position, (code, title, category, tier, condition, explanation) in enumerate(RULES)
    )
    models["FreeTextTerm"].objects.bulk_create(
        models["FreeTextTerm"](rule_set=rule_set, group=group, term=term)
        for group, terms in FREE_TEXT_TERMS for term in terms
    )
    return rule_set
