"""Export everything held about one patient (a subject access request), as JSON."""

import json

from django.core.management.base import BaseCommand

from intake.management.commands._patient import add_patient_arguments, find_patient
from intake.services.retention import export_patient


class Command(BaseCommand):
    help = "Export one patient's data as JSON (to standard output, or --output FILE)."

    def add_arguments(self, parser):
        add_patient_arguments(parser)
        parser.add_argument("--output", help="Write to this file instead of standard output.")

    def handle(self, *args, **options):
        submissions, by = find_patient(options)
        data = json.dumps(export_patient(submissions, by=by), indent=2, ensure_ascii=False)
        if options["output"]:
            with open(options["output"], "w", encoding="utf-8") as file:
                file.write(data + "\n")
            self.stderr.write(f"Exported {len(submissions)} submission(s) to {options['output']}.")
        else:
            self.stdout.write(data)
