"""The hosted tag: tag.js, its build, serving and the install snippet."""
