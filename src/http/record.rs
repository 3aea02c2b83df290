//! The incident record the coordination circular asks for (result, organisations, the report
//! to the coordinating body and its confirmation, receipts) and the periodic report
//! (docs/records.md). Writes go through the shared `incident_event` helper.

use super::*;

pub(super) async fn result(
    State(s): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    raw: axum::body::Bytes,
) -> ApiResult {
    let check = |_: &ResultBody| Ok(());
    incident_event(
        &s,
        &headers,
        &id,
        &raw,
        check,
        |st, id, b: ResultBody, now| st.set_result(id, &b.text, now),
    )
    .await
}

pub(super) async fn organisations(
    State(s): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    raw: axum::body::Bytes,
) -> ApiResult {
    let check = |_: &OrganisationsBody| Ok(());
    incident_event(
        &s,
        &headers,
        &id,
        &raw,
        check,
        |st, id, b: OrganisationsBody, now| st.set_organisations(id, &b.organisations, now),
    )
    .await
}

/// The `at` of a record body: the time given, or `now`; a time that does not parse is a 400
/// (as `StoreError::Invalid`).
fn at_or_now(at: Option<&str>, now: u64) -> Result<u64, StoreError> {
    match at {
        None => Ok(now),
        Some(t) => parse_time(t).ok_or_else(|| {
            StoreError::Invalid(format!(
                "at \"{t}\" is neither Unix milliseconds nor an RFC 3339 time like 2026-11-22T18:00:00+08:00"
            ))
        }),
    }
}

pub(super) async fn reported(
    State(s): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    raw: axum::body::Bytes,
) -> ApiResult {
    let check = |b: &ReportedBody| {
        if b.to.trim().is_empty() || b.by.trim().is_empty() {
            Err(ApiError(
                StatusCode::BAD_REQUEST,
                "\"to\" must name the coordinating body and \"by\" who reported".into(),
            ))
        } else {
            Ok(())
        }
    };
    incident_event(
        &s,
        &headers,
        &id,
        &raw,
        check,
        |st, id, b: ReportedBody, now| {
            let at = at_or_now(b.at.as_deref(), now)?;
            st.report_to_coordinator(id, &b.to, &b.by, at, now)
        },
    )
    .await
}

pub(super) async fn coordinator_confirmed(
    State(s): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    raw: axum::body::Bytes,
) -> ApiResult {
    let check = |b: &ConfirmedBody| filled(&b.by, "by", "name who confirmed");
    incident_event(
        &s,
        &headers,
        &id,
        &raw,
        check,
        |st, id, b: ConfirmedBody, now| {
            let at = at_or_now(b.at.as_deref(), now)?;
            st.coordinator_confirmed(id, &b.by, at, now)
        },
    )
    .await
}

pub(super) async fn receipt(
    State(s): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    raw: axum::body::Bytes,
) -> ApiResult {
    let check = |b: &ReceiptBody| filled(&b.organisation, "organisation", "name the receiver");
    incident_event(
        &s,
        &headers,
        &id,
        &raw,
        check,
        |st, id, b: ReceiptBody, now| {
            let at = at_or_now(b.at.as_deref(), now)?;
            st.confirm_receipt(id, &b.organisation, b.by.as_deref(), at, now)
        },
    )
    .await
}

/// `GET /api/v1/report?from=YYYY-MM-DD&to=YYYY-MM-DD`: the periodic report of the period
/// (days in +08:00, both included) as JSON (`crate::report::Report`); 400 for a bad period.
pub(super) async fn report(
    State(s): State<Shared>,
    Query(q): Query<wire::ReportQuery>,
) -> ApiResult {
    use crate::report::{build, Input, Period};
    let period = Period::parse(&q.from, &q.to).map_err(|e| ApiError(StatusCode::BAD_REQUEST, e))?;
    let now = s.clock.now_ms();
    let config = s.config.load();
    let ack_within = config.daemon.ack_within;
    let objects: Vec<_> = config
        .objects
        .iter()
        .filter(|o| o.class != crate::config::ObjectClass::Control)
        .map(crate::grading::object_key)
        .collect();
    let store = s.incidents.clone();
    let r = tokio::task::spawn_blocking(move || -> Result<_, StoreError> {
        let filter = ListFilter {
            state: StateFilter::All,
            since: Some(period.start.0),
            include_false_positive: true,
            include_drill: true,
            limit: None,
            without_evidence: true,
        };
        let mut details = Vec::new();
        for i in store.list(&filter)? {
            if i.onset.0 < period.end.0 {
                details.extend(store.get(i.id)?);
            }
        }
        let input = Input {
            period,
            now,
            ack_within,
            objects,
            incidents: &details,
        };
        Ok(build(&input))
    })
    .await
    .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))??;
    Ok(Json(r).into_response())
}
