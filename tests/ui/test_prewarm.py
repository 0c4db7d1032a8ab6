"""The prewarm thread imports the model manager's modules and compiles every lexer."""

from __future__ import annotations

import sys

from pygments.lexer import RegexLexer
from pygments.lexers import find_lexer_class_by_name

from app.core.editor.languages import LANGUAGES
from app.ui.prewarm import MODULES, prewarm_in_background


def test_prewarm_leaves_modules_imported_and_lexers_compiled():
    prewarm_in_background().join(120)
    assert all(name in sys.modules for name in MODULES)
    for language in LANGUAGES.values():
        lexer_class = find_lexer_class_by_name(language.lexer)  # the class, without making an instance
        if issubclass(lexer_class, RegexLexer):
            compiled = {"_tokens", "_all_tokens"} & set(lexer_class.__dict__)  # C# compiles per Unicode level
            assert compiled, language.lexer
