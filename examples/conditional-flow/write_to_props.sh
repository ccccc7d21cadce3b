#!/bin/sh
# Writes the job's output parameters: they feed the children's conditions and properties.
echo "{\"param1\": \"$1\"}" > "$JOB_OUTPUT_PROP_FILE"
