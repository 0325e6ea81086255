//! Where in the query text a parser is working (option name and the offset
//! of its text), so every error can name the option and the 0-based
//! character position of the problem.

use std::fmt::Display;

use crate::error::QueryError;

/// The option being parsed (`$filter`, `$expand`, …) and the character
/// offset of the parsed text inside that option's value. Nested `$expand`
/// options are parsed from a slice of the `$expand` value, so their
/// positions are shifted by `base` to point into the whole value.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ctx<'a> {
    pub option: &'a str,
    pub base: usize,
}

impl<'a> Ctx<'a> {
    pub fn new(option: &'a str) -> Self {
        Ctx { option, base: 0 }
    }

    /// The same option, for a slice of its text starting at `offset`.
    pub fn shifted(&self, offset: usize) -> Self {
        Ctx {
            option: self.option,
            base: self.base + offset,
        }
    }

    /// A grammar error: `Syntax error at position 14 in $filter: <what>`.
    pub fn syntax(&self, pos: usize, what: impl Display) -> QueryError {
        let pos = self.base + pos;
        QueryError::at(
            format!("Syntax error at position {pos} in {}: {what}", self.option),
            pos,
        )
    }

    /// Any other error at a position (unknown name, type mismatch…).
    pub fn error(&self, pos: usize, what: impl Display) -> QueryError {
        let pos = self.base + pos;
        QueryError::at(
            format!("{what} (at position {pos} in {})", self.option),
            pos,
        )
    }
}
