//! Tokens of the `$filter` expression language, each with the 0-based
//! character position where it starts.

use crate::error::QueryError;

use super::context::Ctx;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    LParen,
    RParen,
    Comma,
    /// A single-quoted string, with `''` already unescaped.
    Str(String),
    /// A run of name characters: a property or function name, a keyword
    /// (`eq`, `and`, `null`…), a number, a GUID or a date-time. What it is
    /// depends on where the parser finds it.
    Word(String),
    /// A parameter alias `@name` (the name without `@`).
    Alias(String),
    Eof,
}

impl Tok {
    /// How the token is shown in error messages.
    pub fn describe(&self) -> String {
        match self {
            Tok::LParen => "'('".to_string(),
            Tok::RParen => "')'".to_string(),
            Tok::Comma => "','".to_string(),
            Tok::Str(s) => format!("the string '{}'", s.replace('\'', "''")),
            Tok::Word(w) => format!("'{w}'"),
            Tok::Alias(a) => format!("'@{a}'"),
            Tok::Eof => "the end of the text".to_string(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub tok: Tok,
    /// Character offset of the token's first character.
    pub pos: usize,
}

/// Characters that may start a word: letters, digits, `_` and `-` (for
/// negative numbers).
fn word_start(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// Characters that may continue a word. `.` `:` `-` `+` appear in numbers,
/// GUIDs and date-times; `/` in navigation paths (rejected later with a
/// clear message).
fn word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-' | '+' | '/')
}

/// Split `chars` into tokens. The result always ends with one `Eof` token
/// whose position is the length of the text.
pub(crate) fn tokenize(chars: &[char], ctx: &Ctx) -> Result<Vec<Token>, QueryError> {
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        let tok =
            match c {
                c if c.is_whitespace() => {
                    i += 1;
                    continue;
                }
                '(' => {
                    i += 1;
                    Tok::LParen
                }
                ')' => {
                    i += 1;
                    Tok::RParen
                }
                ',' => {
                    i += 1;
                    Tok::Comma
                }
                '\'' => {
                    let mut s = String::new();
                    i += 1;
                    loop {
                        match chars.get(i) {
                            None => return Err(ctx.syntax(
                                start,
                                "the string literal starting here is not closed with a quote (')",
                            )),
                            Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                                s.push('\'');
                                i += 2;
                            }
                            Some('\'') => {
                                i += 1;
                                break;
                            }
                            // No store can keep U+0000 in text (PostgreSQL refuses it).
                            Some('\0') => {
                                return Err(ctx.syntax(
                                    i,
                                    "a string literal cannot contain a NUL character (U+0000, %00)",
                                ))
                            }
                            Some(other) => {
                                s.push(*other);
                                i += 1;
                            }
                        }
                    }
                    Tok::Str(s)
                }
                '@' => {
                    i += 1;
                    let name_start = i;
                    while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                        i += 1;
                    }
                    if i == name_start {
                        return Err(ctx.syntax(start, "expected a parameter alias name after '@'"));
                    }
                    Tok::Alias(chars[name_start..i].iter().collect())
                }
                c if word_start(c) => {
                    while i < chars.len() && word_char(chars[i]) {
                        i += 1;
                    }
                    Tok::Word(chars[start..i].iter().collect())
                }
                other => {
                    return Err(ctx.syntax(start, format!("unexpected character '{other}'")));
                }
            };
        tokens.push(Token { tok, pos: start });
    }
    tokens.push(Token {
        tok: Tok::Eof,
        pos: chars.len(),
    });
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        let chars: Vec<char> = s.chars().collect();
        tokenize(&chars, &Ctx::new("$filter"))
            .unwrap()
            .into_iter()
            .map(|t| t.tok)
            .collect()
    }

    #[test]
    fn tokenizes_literals_and_names() {
        assert_eq!(
            toks("startswith(lastname,'O''Brien') and x eq -1.5"),
            vec![
                Tok::Word("startswith".into()),
                Tok::LParen,
                Tok::Word("lastname".into()),
                Tok::Comma,
                Tok::Str("O'Brien".into()),
                Tok::RParen,
                Tok::Word("and".into()),
                Tok::Word("x".into()),
                Tok::Word("eq".into()),
                Tok::Word("-1.5".into()),
                Tok::Eof,
            ]
        );
        assert_eq!(
            toks("d ge 2024-05-01T10:00:00Z or id eq @p1"),
            vec![
                Tok::Word("d".into()),
                Tok::Word("ge".into()),
                Tok::Word("2024-05-01T10:00:00Z".into()),
                Tok::Word("or".into()),
                Tok::Word("id".into()),
                Tok::Word("eq".into()),
                Tok::Alias("p1".into()),
                Tok::Eof,
            ]
        );
    }

    #[test]
    fn positions_are_characters_not_bytes() {
        let chars: Vec<char> = "'é' é".chars().collect();
        let err = tokenize(&chars, &Ctx::new("$filter")).unwrap_err();
        assert_eq!(err.position, Some(4));
        let err =
            tokenize(&"a eq 'x".chars().collect::<Vec<_>>(), &Ctx::new("$filter")).unwrap_err();
        assert_eq!(err.position, Some(5));
        assert!(err.message.contains("not closed"), "{}", err.message);
    }

    #[test]
    fn a_nul_in_a_string_literal_is_a_syntax_error_at_its_position() {
        let chars: Vec<char> = "a eq 'x\0y'".chars().collect();
        let err = tokenize(&chars, &Ctx::new("$filter")).unwrap_err();
        assert_eq!(err.position, Some(7));
        assert!(err.message.contains("NUL"), "{}", err.message);
    }
}
