"""Erase one patient's data on request; the audit trail keeps the references and the erasure."""

from django.core.management.base import BaseCommand, CommandError

from intake.management.commands._patient import add_patient_arguments, find_patient
from intake.services.retention import erase_patient


class Command(BaseCommand):
    help = "Erase one patient's submissions, answers, flags and alerts (the audit trail stays)."

    def add_arguments(self, parser):
        add_patient_arguments(parser)
        parser.add_argument("--yes", action="store_true", help="Do not ask to confirm.")

    def handle(self, *args, **options):
        submissions, by = find_patient(options)
        listed = ", ".join(s.reference for s in submissions)
        if not options["yes"]:
            answer = input(f"Erase {len(submissions)} submission(s): {listed}? Type yes: ")
            if answer.strip().lower() != "yes":
                raise CommandError("Nothing erased.")
        erased = erase_patient(submissions, by=by)
        self.stdout.write(f"Erased {len(erased)} submission(s): {', '.join(erased)}.")
