"""Gives some articles of a generated corpus categories, so that the browser test has category
pages to visit (the generator writes none). Usage: add_categories.py CONTENT_DIR"""
import pathlib
import sys

for i, path in enumerate(sorted(pathlib.Path(sys.argv[1]).glob("*.md"))[:30]):
    text = path.read_text(encoding="utf-8")
    names = '["Generated", "Sample"]' if i % 2 else '["Generated"]'
    path.write_text(text.replace("\n[infobox]", f"\ncategories = {names}\n\n[infobox]", 1), encoding="utf-8")
