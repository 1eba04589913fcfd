"""What the patient-data commands share: finding the patient and the admin acting."""

import datetime

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError

from intake.services.retention import submissions_of


def add_patient_arguments(parser):
    parser.add_argument("--reference", action="append", default=[],
                        help="A case reference (repeat for several).")
    parser.add_argument("--name", default="", help="The patient's full name (with --dob).")
    parser.add_argument("--dob", default="", help="The patient's date of birth, YYYY-MM-DD.")
    parser.add_argument("--by", required=True,
                        help="Username of the admin doing this (it is audited).")


def find_patient(options):
    dob = None
    if options["dob"]:
        try:
            dob = datetime.date.fromisoformat(options["dob"])
        except ValueError:
            raise CommandError("--dob must be a date as YYYY-MM-DD.") from None
    if not options["reference"] and not (options["name"] and dob):
        raise CommandError("Say whose data: --reference, or --name with --dob.")
    try:
        by = get_user_model().objects.get(username=options["by"], is_staff=True)
    except get_user_model().DoesNotExist:
        raise CommandError(f"No admin with the username {options['by']!r}.") from None
    submissions = submissions_of(references=options["reference"], full_name=options["name"],
                                 date_of_birth=dob)
    if not submissions:
        raise CommandError("No submissions match.")
    return submissions, by
