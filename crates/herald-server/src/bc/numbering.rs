//! What a create gets without asking: the entity's documented defaults
//! (`type` `Company`, `blocked` `" "`, `status` `Draft`, …) and, when
//! `number` is left out or empty, the next number of its series
//! ([`NumberSeries`], drawn from the store's counter, so concurrent creates
//! on any node never share one). A drawn number already taken by a record
//! of the company (one created with an explicit `number`) is skipped.

use herald_core::builtin::{bc_column, BcEntity, NumberSeries, BC_COMPANY_COLUMN};
use herald_core::query::{ColumnRef, CompareOp, Condition};
use herald_core::{Query, Value};
use uuid::Uuid;

use super::errors;
use crate::api::error::ApiResult;
use crate::state::AppState;

/// Draws tried before giving up on finding a free number.
const MAX_DRAWS: usize = 1000;

fn is_set(values: &[(String, Value)], column: &str) -> bool {
    values
        .iter()
        .any(|(c, v)| c == column && !matches!(v, Value::String(s) if s.is_empty()) && !v.is_null())
}

/// Add the defaults and the series number `values` lacks.
pub async fn complete_create(
    state: &AppState,
    company: Uuid,
    entity: &BcEntity,
    values: &mut Vec<(String, Value)>,
) -> ApiResult<()> {
    for (field, default) in entity.defaults {
        let column = bc_column(field);
        if !values.iter().any(|(c, _)| *c == column) {
            values.push((column, Value::String((*default).to_string())));
        }
    }
    if let Some(series) = entity.number_series {
        let column = bc_column("number");
        if !is_set(values, &column) {
            let number = next_free_number(state, company, entity, &series).await?;
            values.retain(|(c, _)| *c != column);
            values.push((column, Value::String(number)));
        }
    }
    Ok(())
}

async fn next_free_number(
    state: &AppState,
    company: Uuid,
    entity: &BcEntity,
    series: &NumberSeries,
) -> ApiResult<String> {
    for _ in 0..MAX_DRAWS {
        let n = state
            .store
            .bc_next_number(company, entity.name, series.start, series.step)
            .await?;
        let number = series.format(n);
        if !number_taken(state, company, entity, &number).await? {
            return Ok(number);
        }
    }
    Err(errors::bad_request(format!(
        "The number series of {} found no free number in {MAX_DRAWS} draws: give 'number' explicitly",
        entity.name
    )))
}

async fn number_taken(
    state: &AppState,
    company: Uuid,
    entity: &BcEntity,
    number: &str,
) -> ApiResult<bool> {
    let mut q = Query::all(entity.logical);
    q.filter = Some(Condition::And(vec![
        Condition::Compare {
            column: ColumnRef::new(BC_COMPANY_COLUMN),
            op: CompareOp::Eq,
            value: Value::Guid(company),
        },
        Condition::Compare {
            column: ColumnRef::new("number"),
            op: CompareOp::Eq,
            value: Value::String(number.to_string()),
        },
    ]));
    Ok(state.store.count(&q).await? > 0)
}
