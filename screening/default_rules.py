"""Version 1 of the default rule set, exactly as ``shared/clinical/triage-rules.md`` sets it out.

This is frozen data: the migration that creates the active rule set reads it, so it must not
change.  Admins change the rules by creating a new draft rule set in the admin, never by editing
this file.  Each rule is ``(code, category, tier, condition, explanation)``, in the spec's order.

Conditions are written in the rule language (``screening.conditions``) over the question codes
of ``intake.default_questionnaire``.  Where the spec defines a rule by other rules ("neither of
the two rules above fires"), the condition spells the other rules' conditions out: a rule is
evaluated on its own, never by looking at which other rules fired.
"""

QUESTIONNAIRE_SLUG = "upper-back-pain"
QUESTIONNAIRE_VERSION = 1
NOTES = "Version 1 of the default rules, from the clinical specification (triage-rules.md)."

# "autonomic": any of dizziness, nausea, sweating in associated_symptoms.
AUTONOMIC = (
    "('dizziness' in associated_symptoms or 'nausea' in associated_symptoms"
    " or 'sweating' in associated_symptoms)"
)
# The three cardiac features, counted: left arm pain; autonomic; pain with exertion.
CARDIAC_FEATURE_COUNT = (
    f"(('left_arm' in pain_radiates_to) ? 1 : 0) + ({AUTONOMIC} ? 1 : 0)"
    " + (pain_with_exertion ? 1 : 0)"
)
CARDIAC_MULTIPLE_FEATURES = f"{CARDIAC_FEATURE_COUNT} >= 2"
CARDIAC_FEMALE_AUTONOMIC = f"sex != 'male' and {AUTONOMIC}"
# "numbness_tingling is not none": something other than 'none' was chosen.  An empty list
# (unanswered) and ['none'] both mean no.
NUMBNESS = "[site for site in numbness_tingling if site != 'none'].length > 0"
MALIGNANCY_SIGN_COUNT = (
    "(history_of_cancer ? 1 : 0) + (unexplained_weight_loss ? 1 : 0)"
    " + (night_sweats ? 1 : 0) + (pain_worsening ? 1 : 0)"
)

POSSIBLE_CARDIAC = "possible_cardiac"
RED_FLAG = "red_flag"
NERVE = "nerve"
ORGAN_REFERRED = "organ_referred"

EMERGENCY = "emergency"
URGENT = "urgent"
SOON = "soon"

RULES = [
    # --- Possible cardiac ---
    (
        "cardiac_chest_pain", POSSIBLE_CARDIAC, EMERGENCY,
        "chest_pain or 'chest' in pain_radiates_to",
        'chest discomfort with upper back pain can be angina or a heart attack ("Chest Pain")',
    ),
    (
        "cardiac_breathing", POSSIBLE_CARDIAC, EMERGENCY,
        "breathing_difficulty",
        'trouble breathing with upper back pain may mean reduced blood flow to the heart '
        '("Breathing Issues"; also a listed red flag)',
    ),
    (
        "cardiac_jaw", POSSIBLE_CARDIAC, EMERGENCY,
        "'jaw' in pain_radiates_to",
        'heart pain may radiate to the upper back, neck or jaw ("Radiating Pain")',
    ),
    (
        "cardiac_multiple_features", POSSIBLE_CARDIAC, EMERGENCY,
        CARDIAC_MULTIPLE_FEATURES,
        'several heart-attack features together',
    ),
    (
        "cardiac_female_autonomic", POSSIBLE_CARDIAC, EMERGENCY,
        CARDIAC_FEMALE_AUTONOMIC,
        'upper back pain can be a heart-attack symptom, especially in women, with dizziness, '
        'nausea or sweating; where sex is unknown (intersex, prefer_not_to_say) the more '
        'sensitive reading applies',
    ),
    (
        "cardiac_feature", POSSIBLE_CARDIAC, URGENT,
        f"{CARDIAC_FEATURE_COUNT} == 1 and not ({CARDIAC_MULTIPLE_FEATURES})"
        f" and not ({CARDIAC_FEMALE_AUTONOMIC})",
        'one heart-related feature: rule out a heart condition the same day '
        '("Exercise-Related Pain", "Radiating Pain")',
    ),
    # --- Red flags ---
    (
        "cauda_equina", RED_FLAG, EMERGENCY,
        "bladder_bowel_control",
        'loss of bladder or bowel control with back pain may be cauda equina syndrome, a '
        'medical emergency',
    ),
    (
        "sudden_severe_pain", RED_FLAG, EMERGENCY,
        "pain_onset == 'sudden_no_cause' and pain_severity >= 7",
        'pain that suddenly becomes severe without an apparent cause needs immediate '
        'attention (spinal infection, ruptured disc)',
    ),
    (
        "infection_with_neuro_signs", RED_FLAG, EMERGENCY,
        f"fever_chills and (weakness_or_clumsiness or {NUMBNESS})",
        'fever with neurological symptoms: possible spinal infection or epidural abscess',
    ),
    (
        "sudden_pain", RED_FLAG, URGENT,
        "pain_onset == 'sudden_no_cause' and pain_severity < 7",
        'sudden onset without a cause',
    ),
    (
        "severe_disabling_pain", RED_FLAG, URGENT,
        "pain_severity >= 8 and pain_limits_activity",
        'intense pain that limits movement or everyday tasks ("Severe Pain")',
    ),
    (
        "neuro_weakness", RED_FLAG, URGENT,
        "weakness_or_clumsiness",
        'weakness or loss of coordination suggests nerve compression or damage',
    ),
    (
        "fever", RED_FLAG, URGENT,
        "fever_chills",
        'fever or chills with back pain may mean infection',
    ),
    (
        "trauma", RED_FLAG, URGENT,
        "recent_trauma or pain_onset == 'after_injury'",
        'recent trauma or injury is a listed red flag (fracture)',
    ),
    (
        "malignancy_cluster", RED_FLAG, URGENT,
        f"{MALIGNANCY_SIGN_COUNT} >= 2",
        'several cancer warning signs together (history of cancer, weight loss, night sweats,'
        ' worsening pain)',
    ),
    (
        "neuro_numbness", RED_FLAG, SOON,
        NUMBNESS,
        'numbness or tingling in the arms or legs is a listed red flag',
    ),
    (
        "cancer_history", RED_FLAG, SOON,
        "history_of_cancer",
        'a history of cancer is a listed red flag',
    ),
    (
        "weight_loss", RED_FLAG, SOON,
        "unexplained_weight_loss",
        'unexplained weight loss may signal cancer or infection',
    ),
    (
        "night_sweats", RED_FLAG, SOON,
        "night_sweats",
        'night sweats are a listed red flag',
    ),
    (
        "progressive_pain", RED_FLAG, SOON,
        "pain_worsening",
        'pain that worsens over time is a listed red flag',
    ),
    # --- Nerve and organ-referred ---
    (
        "radiating_arm_pain", NERVE, SOON,
        "'left_arm' in pain_radiates_to or 'right_arm' in pain_radiates_to",
        'pain travelling down the arm may be a pinched nerve or a disc in the neck',
    ),
    (
        "radiating_leg_pain", NERVE, SOON,
        "'legs' in pain_radiates_to",
        'pain spreading to the legs suggests nerve involvement',
    ),
    (
        "kidney_symptoms", ORGAN_REFERRED, SOON,
        "urinary_symptoms",
        'kidney pain comes with urinary symptoms or blood in the urine',
    ),
    (
        "jaundice", ORGAN_REFERRED, URGENT,
        "jaundice",
        'liver or gallbladder pain may come with jaundice',
    ),
]


def create_default_rule_set(Questionnaire, QuestionnaireVersion, RuleSet, Rule, now):
    """Create rule set version 1, active, for version 1 of the default questionnaire.

    Takes the model classes so that a data migration can pass its historical models.  Returns
    the rule set and its rules, or ``(None, [])`` when the default questionnaire is absent.
    """
    version = QuestionnaireVersion.objects.filter(
        questionnaire__slug=QUESTIONNAIRE_SLUG, number=QUESTIONNAIRE_VERSION
    ).first()
    if version is None:
        return None, []
    rule_set = RuleSet.objects.create(
        questionnaire_id=version.questionnaire_id,
        questionnaire_version=version,
        version=1,
        status="active",
        notes=NOTES,
        created_at=now,
        activated_at=now,
    )
    rules = Rule.objects.bulk_create(
        Rule(
            rule_set=rule_set,
            code=code,
            category=category,
            tier=tier,
            condition=condition,
            explanation=explanation,
            enabled=True,
            position=position,
        )
        for position, (code, category, tier, condition, explanation) in enumerate(RULES)
    )
    return rule_set, rules
