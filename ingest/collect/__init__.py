"""The collector pipeline: parse -> authorize -> enrich -> write -> respond, one module each."""
