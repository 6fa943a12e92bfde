"""The ground floor: what every app uses and nothing above it knows of.

Domain errors, money, pagination, log masking, strict settings readers, the PII primitives,
private files, PDFs and working days. `core` imports no app of the project (tests/test_import_graph.py).
"""
