"""The `summarize` job of the example: reads its properties, writes an output property."""
import json
import os

with open(os.environ["JOB_PROP_FILE"], encoding="utf-8") as f:
    props = json.load(f)

rows = int(props.get("rows", "0"))
print(f"summarizing {rows} rows for {props.get('target')} with python jobtype {os.environ.get('PYTHON_JOBTYPE_VERSION')}")
with open(os.environ["JOB_OUTPUT_PROP_FILE"], "w", encoding="utf-8") as f:
    json.dump({"summary": f"{rows * 2} half-rows"}, f)
