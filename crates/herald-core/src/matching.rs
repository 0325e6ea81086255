//! Which registered steps run for a write, and in what order: enabled steps
//! of the message and table (or of the message for any table), Update steps
//! with filtering attributes only when one of those columns changed, sorted
//! by stage then rank.

use uuid::Uuid;

/// A step image as registered (`sdkmessageprocessingstepimage`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageDef {
    /// 0 PreImage, 1 PostImage, 2 Both.
    pub imagetype: i64,
    pub entityalias: String,
    /// Columns to include; empty means all.
    pub attributes: Vec<String>,
}

impl ImageDef {
    pub fn is_pre(&self) -> bool {
        self.imagetype == 0 || self.imagetype == 2
    }

    pub fn is_post(&self) -> bool {
        self.imagetype == 1 || self.imagetype == 2
    }
}

/// A registered webhook step, with what the pipeline needs to run it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepDef {
    pub id: Uuid,
    pub name: String,
    pub message: String,
    /// Logical name of the table, `None` for "any table".
    pub table: Option<String>,
    pub stage: i64,
    /// 0 synchronous, 1 asynchronous.
    pub mode: i64,
    pub rank: i64,
    /// Empty: fire on every Update.
    pub filtering_attributes: Vec<String>,
    pub endpoint_id: Uuid,
    pub impersonating_user: Option<Uuid>,
    pub async_auto_delete: bool,
    pub enabled: bool,
    pub images: Vec<ImageDef>,
}

impl StepDef {
    pub fn is_async(&self) -> bool {
        self.mode == 1
    }

    /// Whether this step fires for `message` on `table` with these changed
    /// columns (`changed` is only consulted for Update).
    pub fn matches(&self, message: &str, table: &str, changed: &[String]) -> bool {
        if !self.enabled || !self.message.eq_ignore_ascii_case(message) {
            return false;
        }
        if let Some(t) = &self.table {
            if t != table {
                return false;
            }
        }
        if message == "Update" && !self.filtering_attributes.is_empty() {
            return self
                .filtering_attributes
                .iter()
                .any(|a| changed.iter().any(|c| c == a));
        }
        true
    }
}

/// Split a comma list (`firstname, lastname`) into lower-case names.
pub fn comma_list(s: Option<&str>) -> Vec<String> {
    s.unwrap_or("")
        .split(',')
        .map(|a| a.trim().to_ascii_lowercase())
        .filter(|a| !a.is_empty())
        .collect()
}

/// The matching steps of one stage, in execution order (rank, then name and
/// id for a stable order among equal ranks).
pub fn steps_for_stage<'a>(
    steps: &'a [StepDef],
    stage: i64,
    message: &str,
    table: &str,
    changed: &[String],
) -> Vec<&'a StepDef> {
    let mut out: Vec<&StepDef> = steps
        .iter()
        .filter(|s| s.stage == stage && s.matches(message, table, changed))
        .collect();
    out.sort_by(|a, b| (a.rank, &a.name, a.id).cmp(&(b.rank, &b.name, b.id)));
    out
}

/// The columns of an image: all of the row's, in row order, when
/// `attributes` is empty; else the listed ones in the order they are listed
/// (as seed 000 shows `AsynchronousStepPrimaryName` = `fullname`, then
/// `contactid`), with the primary id appended when it is not listed — it
/// always stays. Listed names the row does not have are skipped.
pub fn image_columns<T: Clone>(
    values: &[(String, T)],
    attributes: &[String],
    primary_id: &str,
) -> Vec<(String, T)> {
    if attributes.is_empty() {
        return values.to_vec();
    }
    let find = |name: &str| values.iter().find(|(k, _)| k == name).cloned();
    let mut out: Vec<(String, T)> = Vec::new();
    for a in attributes {
        if !out.iter().any(|(k, _)| k == a) {
            out.extend(find(a));
        }
    }
    if !out.iter().any(|(k, _)| k == primary_id) {
        out.extend(find(primary_id));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(name: &str, stage: i64, rank: i64, filter: &str) -> StepDef {
        StepDef {
            id: Uuid::new_v4(),
            name: name.into(),
            message: "Update".into(),
            table: Some("contact".into()),
            stage,
            mode: 0,
            rank,
            filtering_attributes: comma_list(Some(filter)),
            endpoint_id: Uuid::nil(),
            impersonating_user: None,
            async_auto_delete: false,
            enabled: true,
            images: vec![],
        }
    }

    #[test]
    fn filters_orders_and_matches() {
        let steps = vec![
            step("b", 40, 2, ""),
            step("a", 40, 1, "firstname, lastname"),
            step("c", 20, 1, ""),
            step("d", 40, 1, "telephone1"),
        ];
        let changed = vec!["firstname".to_string()];
        let names: Vec<&str> = steps_for_stage(&steps, 40, "Update", "contact", &changed)
            .iter()
            .map(|s| s.name.as_str())
            .collect();
        assert_eq!(names, vec!["a", "b"]);
        assert!(steps_for_stage(&steps, 40, "Update", "account", &changed).is_empty());
        assert_eq!(
            steps_for_stage(&steps, 20, "Update", "contact", &[]).len(),
            1
        );
        let mut disabled = step("x", 40, 1, "");
        disabled.enabled = false;
        assert!(!disabled.matches("Update", "contact", &[]));
        let mut any = step("y", 40, 1, "");
        any.table = None;
        assert!(any.matches("update", "account", &[]));
    }

    #[test]
    fn images_keep_listed_columns_and_the_id() {
        let values = vec![
            ("contactid".to_string(), 1),
            ("firstname".to_string(), 2),
            ("lastname".to_string(), 3),
        ];
        assert_eq!(
            image_columns(&values, &["lastname".to_string()], "contactid").len(),
            2
        );
        assert_eq!(image_columns(&values, &[], "contactid").len(), 3);
        // Listed order, not row order; the primary id appended when unlisted.
        let names = |cols: Vec<(String, i32)>| cols.into_iter().map(|(k, _)| k).collect::<Vec<_>>();
        let list = |s: &str| comma_list(Some(s));
        assert_eq!(
            names(image_columns(
                &values,
                &list("lastname,contactid"),
                "contactid"
            )),
            ["lastname", "contactid"]
        );
        assert_eq!(
            names(image_columns(
                &values,
                &list("lastname,nosuch,firstname"),
                "contactid"
            )),
            ["lastname", "firstname", "contactid"]
        );
    }
}
