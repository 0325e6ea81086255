//! Where a Web API write runs: in its own transaction (a request on its
//! own), or inside a [`WriteSession`] shared with other writes (a `$batch`
//! change set), which commits them together. The write handlers build the
//! same `Operation` either way; only this decides the transaction.

use crate::pipeline::{self, Operation, Outcome, PipelineResult, WriteSession};
use crate::state::AppState;

pub(super) enum Writer<'w, 'a> {
    /// Each write commits on its own.
    Alone,
    /// The writes join this session (committed by its owner).
    Session(&'w mut WriteSession<'a>),
}

impl Writer<'_, '_> {
    pub(super) async fn execute(
        &mut self,
        state: &AppState,
        op: Operation,
    ) -> PipelineResult<Outcome> {
        match self {
            Writer::Alone => pipeline::execute(state, op).await,
            Writer::Session(session) => session.execute(op).await,
        }
    }

    /// Whether a row written now can be read back outside the write: not
    /// before a shared session commits (so no `return=representation`).
    pub(super) fn committed_on_return(&self) -> bool {
        matches!(self, Writer::Alone)
    }
}
