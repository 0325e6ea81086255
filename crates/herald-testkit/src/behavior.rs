//! How a [`crate::Receiver`] answers: a programmable [`Behavior`], asked
//! once per request for the next action.

use std::collections::VecDeque;
use std::time::Duration;

/// A complete HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    /// `status` with an empty body.
    pub fn status(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// What the receiver does with the next request(s). Default: `200`, empty body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Behavior {
    /// Answer every request with this reply.
    Reply(Reply),
    /// Use each step for one request, in order, then `then` for the rest.
    Sequence {
        steps: VecDeque<Behavior>,
        then: Box<Behavior>,
    },
    /// Wait, then answer.
    Delay { delay: Duration, reply: Reply },
    /// Read the request and never answer.
    Hang,
    /// Read the request, then close the connection without answering (the
    /// client sees a connection error, not a status).
    Close,
    /// Business Central handshake: a request carrying a `validationToken`
    /// query parameter gets `200 text/plain` with the token as the body;
    /// any other request is answered by `otherwise`.
    EchoValidationToken { otherwise: Box<Behavior> },
}

impl Default for Behavior {
    fn default() -> Self {
        Behavior::status(200)
    }
}

impl Behavior {
    /// Always answer `status` with an empty body.
    pub fn status(status: u16) -> Self {
        Behavior::Reply(Reply::status(status))
    }

    /// Always answer `status` with `body`.
    pub fn status_with_body(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Behavior::Reply(Reply::status(status).with_body(body))
    }

    /// Always answer `302 Found` with `Location: location`.
    pub fn redirect(location: impl Into<String>) -> Self {
        Behavior::Reply(Reply::status(302).with_header("location", location))
    }

    /// One status per request, in order, then `then`.
    pub fn statuses(statuses: impl IntoIterator<Item = u16>, then: Behavior) -> Self {
        Behavior::sequence(statuses.into_iter().map(Behavior::status), then)
    }

    /// One behaviour per request, in order, then `then`.
    pub fn sequence(steps: impl IntoIterator<Item = Behavior>, then: Behavior) -> Self {
        Behavior::Sequence {
            steps: steps.into_iter().collect(),
            then: Box::new(then),
        }
    }

    /// Wait `delay`, then answer `status`.
    pub fn delay(delay: Duration, status: u16) -> Self {
        Behavior::Delay {
            delay,
            reply: Reply::status(status),
        }
    }

    /// Echo `validationToken`; answer other requests `200`.
    pub fn echo_validation_token() -> Self {
        Behavior::echo_validation_token_or(Behavior::status(200))
    }

    /// Echo `validationToken`; answer other requests with `otherwise`.
    pub fn echo_validation_token_or(otherwise: Behavior) -> Self {
        Behavior::EchoValidationToken {
            otherwise: Box::new(otherwise),
        }
    }

    /// The action for one request with this raw query; consumes sequence steps.
    pub(crate) fn next_action(&mut self, query: Option<&str>) -> Action {
        match self {
            Behavior::Reply(r) => Action::Reply(r.clone()),
            Behavior::Delay { delay, reply } => Action::Delay(*delay, reply.clone()),
            Behavior::Hang => Action::Hang,
            Behavior::Close => Action::Close,
            Behavior::EchoValidationToken { otherwise } => {
                let token = query.and_then(|q| {
                    url::form_urlencoded::parse(q.as_bytes())
                        .find(|(k, _)| k == "validationToken")
                        .map(|(_, v)| v.into_owned())
                });
                match token {
                    Some(t) => Action::Reply(
                        Reply::status(200)
                            .with_header("content-type", "text/plain")
                            .with_body(t),
                    ),
                    None => otherwise.next_action(query),
                }
            }
            Behavior::Sequence { steps, then } => match steps.pop_front() {
                Some(mut step) => step.next_action(query),
                None => {
                    let then = std::mem::take(then.as_mut());
                    *self = then;
                    self.next_action(query)
                }
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Action {
    Reply(Reply),
    Delay(Duration, Reply),
    Hang,
    Close,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_then_fallback() {
        let mut b = Behavior::statuses([503, 500], Behavior::status(201));
        let got: Vec<_> = (0..4).map(|_| b.next_action(None)).collect();
        assert_eq!(
            got,
            vec![
                Action::Reply(Reply::status(503)),
                Action::Reply(Reply::status(500)),
                Action::Reply(Reply::status(201)),
                Action::Reply(Reply::status(201)),
            ]
        );
    }

    #[test]
    fn echo() {
        let mut b = Behavior::echo_validation_token_or(Behavior::status(202));
        assert_eq!(
            b.next_action(Some("a=1&validationToken=abc%20d")),
            Action::Reply(
                Reply::status(200)
                    .with_header("content-type", "text/plain")
                    .with_body("abc d")
            )
        );
        assert_eq!(
            b.next_action(Some("a=1")),
            Action::Reply(Reply::status(202))
        );
        assert_eq!(b.next_action(None), Action::Reply(Reply::status(202)));
    }
}
