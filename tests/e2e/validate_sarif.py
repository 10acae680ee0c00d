#!/usr/bin/python3
"""Validate SARIF logs against the vendored SARIF 2.1.0 schema.

  validate_sarif.py FILE...

Uses Debian's python3-jsonschema (Draft 4, as the schema declares), with
format checking. Prints one line per error and exits 1 when any file is
invalid, 2 when jsonschema is missing.
"""
import json
import os
import sys

SCHEMA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data",
                      "sarif-schema-2.1.0.json")


def validate(path, validator):
    with open(path) as f:
        log = json.load(f)
    errors = sorted(validator.iter_errors(log), key=lambda e: list(e.absolute_path))
    for e in errors:
        print("%s: %s: %s" % (path, "/".join(str(p) for p in e.absolute_path), e.message))
    return not errors


def main():
    try:
        import jsonschema
    except ImportError:
        print("validate_sarif: python3-jsonschema is missing (scripts/install-deps)")
        return 2
    with open(SCHEMA) as f:
        schema = json.load(f)
    validator = jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker())
    ok = all([validate(p, validator) for p in sys.argv[1:]])
    print("%s: %s" % ("valid" if ok else "INVALID", " ".join(sys.argv[1:])))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
