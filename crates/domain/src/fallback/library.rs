//! 案例库: solved cases, anonymised, found by tag and Chinese keywords.
