//! A System Job's state, as Dataverse's `asyncoperation` stores it: a
//! `statecode` ([`JobState`]) and a `statuscode` ([`JobStatus`]) that must
//! agree with it. The numbers appear only here; everything else (the
//! pipeline, the workers, the store's SQL as bound parameters, the console)
//! speaks these types. The transitions a client may ask for (cancel, pause,
//! resume, retry) are methods that refuse the impossible ones, so the rule
//! of what may follow what is written once.
//!
//! Dataverse reference: <https://learn.microsoft.com/power-apps/developer/data-platform/reference/entities/asyncoperation#statecode-choicesstates>

use std::fmt;

/// `asyncoperation.statecode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobState {
    Ready,
    Suspended,
    Locked,
    Completed,
}

impl JobState {
    pub const fn code(self) -> i64 {
        match self {
            JobState::Ready => 0,
            JobState::Suspended => 1,
            JobState::Locked => 2,
            JobState::Completed => 3,
        }
    }

    pub const fn from_code(code: i64) -> Option<JobState> {
        Some(match code {
            0 => JobState::Ready,
            1 => JobState::Suspended,
            2 => JobState::Locked,
            3 => JobState::Completed,
            _ => return None,
        })
    }

    /// Dataverse's label of the state.
    pub const fn label(self) -> &'static str {
        match self {
            JobState::Ready => "Ready",
            JobState::Suspended => "Suspended",
            JobState::Locked => "Locked",
            JobState::Completed => "Completed",
        }
    }

    /// Whether a worker may still run a job in this state (Ready or
    /// Locked); a Suspended or Completed job is dropped from the queue.
    pub const fn is_runnable(self) -> bool {
        matches!(self, JobState::Ready | JobState::Locked)
    }
}

/// `asyncoperation.statuscode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobStatus {
    WaitingForResources,
    Waiting,
    InProgress,
    Pausing,
    Canceling,
    Succeeded,
    Failed,
    Canceled,
}

impl JobStatus {
    pub const fn code(self) -> i64 {
        match self {
            JobStatus::WaitingForResources => 0,
            JobStatus::Waiting => 10,
            JobStatus::InProgress => 20,
            JobStatus::Pausing => 21,
            JobStatus::Canceling => 22,
            JobStatus::Succeeded => 30,
            JobStatus::Failed => 31,
            JobStatus::Canceled => 32,
        }
    }

    pub const fn from_code(code: i64) -> Option<JobStatus> {
        Some(match code {
            0 => JobStatus::WaitingForResources,
            10 => JobStatus::Waiting,
            20 => JobStatus::InProgress,
            21 => JobStatus::Pausing,
            22 => JobStatus::Canceling,
            30 => JobStatus::Succeeded,
            31 => JobStatus::Failed,
            32 => JobStatus::Canceled,
            _ => return None,
        })
    }

    /// Dataverse's label of the status.
    pub const fn label(self) -> &'static str {
        match self {
            JobStatus::WaitingForResources => "Waiting For Resources",
            JobStatus::Waiting => "Waiting",
            JobStatus::InProgress => "In Progress",
            JobStatus::Pausing => "Pausing",
            JobStatus::Canceling => "Canceling",
            JobStatus::Succeeded => "Succeeded",
            JobStatus::Failed => "Failed",
            JobStatus::Canceled => "Canceled",
        }
    }

    /// The state this status belongs to.
    pub const fn state(self) -> JobState {
        match self {
            JobStatus::WaitingForResources => JobState::Ready,
            JobStatus::Waiting => JobState::Suspended,
            JobStatus::InProgress | JobStatus::Pausing | JobStatus::Canceling => JobState::Locked,
            JobStatus::Succeeded | JobStatus::Failed | JobStatus::Canceled => JobState::Completed,
        }
    }
}

/// A job's (statecode, statuscode), as read from its row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct JobPhase {
    pub state: JobState,
    pub status: JobStatus,
}

/// A transition a client asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobTransition {
    Cancel,
    Pause,
    Resume,
    Retry,
}

impl JobTransition {
    /// The transition's name as the console and CLI spell it.
    pub const fn name(self) -> &'static str {
        match self {
            JobTransition::Cancel => "cancel",
            JobTransition::Pause => "pause",
            JobTransition::Resume => "resume",
            JobTransition::Retry => "retry",
        }
    }

    pub fn from_name(name: &str) -> Option<JobTransition> {
        [
            JobTransition::Cancel,
            JobTransition::Pause,
            JobTransition::Resume,
            JobTransition::Retry,
        ]
        .into_iter()
        .find(|t| t.name() == name)
    }

    /// The past participle ("canceled", …).
    pub const fn verb(self) -> &'static str {
        match self {
            JobTransition::Cancel => "canceled",
            JobTransition::Pause => "paused",
            JobTransition::Resume => "resumed",
            JobTransition::Retry => "retried",
        }
    }
}

/// Why a transition is refused: the message names what is allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TransitionRefused(pub String);

impl JobPhase {
    /// Queued and waiting to run (0/0): how every job starts.
    pub const READY: JobPhase = JobPhase::of(JobStatus::WaitingForResources);
    /// A worker's delivery has run past its grace period (2/20).
    pub const IN_PROGRESS: JobPhase = JobPhase::of(JobStatus::InProgress);
    /// Paused by a client (1/10).
    pub const SUSPENDED: JobPhase = JobPhase::of(JobStatus::Waiting);
    pub const SUCCEEDED: JobPhase = JobPhase::of(JobStatus::Succeeded);
    pub const FAILED: JobPhase = JobPhase::of(JobStatus::Failed);
    pub const CANCELED: JobPhase = JobPhase::of(JobStatus::Canceled);

    /// The phase of a status (its state follows from it).
    pub const fn of(status: JobStatus) -> JobPhase {
        JobPhase {
            state: status.state(),
            status,
        }
    }

    /// Read from a row's codes; unknown codes are `None`.
    pub fn from_codes(statecode: i64, statuscode: i64) -> Option<JobPhase> {
        Some(JobPhase {
            state: JobState::from_code(statecode)?,
            status: JobStatus::from_code(statuscode)?,
        })
    }

    /// The phase of a row whose codes may be missing or unknown: the
    /// status when it is known, else Ready.
    pub fn from_row_codes(statecode: Option<i64>, statuscode: Option<i64>) -> JobPhase {
        match (
            statecode.and_then(JobState::from_code),
            statuscode.and_then(JobStatus::from_code),
        ) {
            (Some(state), Some(status)) => JobPhase { state, status },
            (None, Some(status)) => JobPhase::of(status),
            (Some(JobState::Suspended), None) => JobPhase::SUSPENDED,
            _ => JobPhase::READY,
        }
    }

    /// Dataverse's label, as the console shows it: a Suspended job reads
    /// "Paused" whatever its status.
    pub fn label(self) -> &'static str {
        if self.state == JobState::Suspended {
            "Paused"
        } else {
            self.status.label()
        }
    }

    pub fn is_completed(self) -> bool {
        self.state == JobState::Completed
    }

    /// Failed or Canceled: a job herald can run again.
    pub fn is_retryable(self) -> bool {
        matches!(self.status, JobStatus::Failed | JobStatus::Canceled)
            && self.state == JobState::Completed
    }

    /// The transitions allowed from this phase, in the order the console
    /// offers them.
    pub fn allowed(self) -> Vec<JobTransition> {
        [
            JobTransition::Retry,
            JobTransition::Resume,
            JobTransition::Pause,
            JobTransition::Cancel,
        ]
        .into_iter()
        .filter(|t| self.apply(*t).is_ok())
        .collect()
    }

    /// The phase after `transition`, or why it cannot happen.
    pub fn apply(self, transition: JobTransition) -> Result<JobPhase, TransitionRefused> {
        use JobTransition::*;
        let refused = |why: &str| Err(TransitionRefused(why.to_string()));
        match transition {
            Cancel if self.is_completed() => Err(TransitionRefused(format!(
                "The System Job has already completed ({}); a completed job cannot be canceled{}",
                self.status.label(),
                if self.is_retryable() { ", only retried" } else { "" }
            ))),
            Cancel => Ok(JobPhase::CANCELED),
            Pause if self.state.is_runnable() => Ok(JobPhase::SUSPENDED),
            Pause => refused("Only a Ready or Locked System Job can be paused"),
            Resume if self.state == JobState::Suspended => Ok(JobPhase::READY),
            Resume => refused("Only a paused (Suspended) System Job can be resumed"),
            Retry if self.is_retryable() => Ok(JobPhase::READY),
            Retry => refused(&format!(
                "Only a failed ({}) or canceled ({}) System Job can be retried; this one has statuscode {}",
                JobStatus::Failed.code(),
                JobStatus::Canceled.code(),
                self.status.code()
            )),
        }
    }
}

impl fmt::Display for JobPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (statecode {}, statuscode {})",
            self.label(),
            self.state.code(),
            self.status.code()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL_STATUSES: [JobStatus; 8] = [
        JobStatus::WaitingForResources,
        JobStatus::Waiting,
        JobStatus::InProgress,
        JobStatus::Pausing,
        JobStatus::Canceling,
        JobStatus::Succeeded,
        JobStatus::Failed,
        JobStatus::Canceled,
    ];

    #[test]
    fn codes_round_trip() {
        for s in ALL_STATUSES {
            assert_eq!(JobStatus::from_code(s.code()), Some(s));
            let st = s.state();
            assert_eq!(JobState::from_code(st.code()), Some(st));
        }
        assert_eq!(JobStatus::from_code(5), None);
        assert_eq!(JobState::from_code(4), None);
    }

    #[test]
    fn dataverse_numbers() {
        assert_eq!(
            (JobPhase::READY.state.code(), JobPhase::READY.status.code()),
            (0, 0)
        );
        assert_eq!(
            (
                JobPhase::IN_PROGRESS.state.code(),
                JobPhase::IN_PROGRESS.status.code()
            ),
            (2, 20)
        );
        assert_eq!(
            (
                JobPhase::SUSPENDED.state.code(),
                JobPhase::SUSPENDED.status.code()
            ),
            (1, 10)
        );
        assert_eq!(
            (
                JobPhase::SUCCEEDED.state.code(),
                JobPhase::SUCCEEDED.status.code()
            ),
            (3, 30)
        );
        assert_eq!(
            (
                JobPhase::FAILED.state.code(),
                JobPhase::FAILED.status.code()
            ),
            (3, 31)
        );
        assert_eq!(
            (
                JobPhase::CANCELED.state.code(),
                JobPhase::CANCELED.status.code()
            ),
            (3, 32)
        );
    }

    #[test]
    fn transitions_refuse_the_impossible() {
        use JobTransition::*;
        assert_eq!(JobPhase::READY.allowed(), vec![Pause, Cancel]);
        assert_eq!(JobPhase::IN_PROGRESS.allowed(), vec![Pause, Cancel]);
        assert_eq!(JobPhase::SUSPENDED.allowed(), vec![Resume, Cancel]);
        assert_eq!(JobPhase::FAILED.allowed(), vec![Retry]);
        assert_eq!(JobPhase::CANCELED.allowed(), vec![Retry]);
        assert!(JobPhase::SUCCEEDED.allowed().is_empty());
        let e = JobPhase::SUCCEEDED.apply(Cancel).unwrap_err();
        assert!(e.0.contains("already completed (Succeeded)"), "{e}");
        assert!(
            !e.0.contains("only a failed or canceled job can be retried"),
            "{e}"
        );
        assert_eq!(JobPhase::FAILED.apply(Retry), Ok(JobPhase::READY));
        assert_eq!(JobPhase::READY.apply(Cancel), Ok(JobPhase::CANCELED));
        assert!(JobPhase::READY
            .apply(Retry)
            .unwrap_err()
            .0
            .contains("statuscode 0"));
    }

    #[test]
    fn labels_and_missing_codes() {
        assert_eq!(JobPhase::SUSPENDED.label(), "Paused");
        assert_eq!(JobPhase::FAILED.label(), "Failed");
        assert_eq!(JobPhase::from_row_codes(None, None), JobPhase::READY);
        assert_eq!(
            JobPhase::from_row_codes(Some(3), Some(31)),
            JobPhase::FAILED
        );
        assert_eq!(JobPhase::from_codes(3, 99), None);
        assert_eq!(
            JobPhase::FAILED.to_string(),
            "Failed (statecode 3, statuscode 31)"
        );
    }
}
