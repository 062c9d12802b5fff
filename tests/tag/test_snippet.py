from tag.snippet import install_snippet, tag_url


def test_snippet_has_the_runbook_attributes_in_order():
    snippet = install_snippet(tag_url("https://api.optiview.ai/"), "key_ABC", "prj_XYZ", 123)
    assert snippet == (
        '<script async src="https://api.optiview.ai/v1/tag.js"\n'
        '        data-key-id="key_ABC"\n'
        '        data-project-id="prj_XYZ"\n'
        '        data-property-id="123"\n'
        '        data-clicks="1"\n'
        '        data-spa="1"></script>'
    )


def test_attribute_values_are_escaped():
    snippet = install_snippet('https://x.test/"><b', 'key_"', "prj_<", 1)
    assert '"><b' not in snippet
    assert "&quot;&gt;&lt;b" in snippet
