//! References: what every TLD node should say about each delegation.
//!
//! A reference only needs the delegations (owner → NS set): glue, DS and everything else in a
//! zone is not compared. [`Delegations`] holds them compactly; [`load_zone_file`] streams an
//! RFC 1035 master file line by line into it (never the whole text, never a full zone in
//! memory), so a 20-million-name zone needs about a gigabyte, not twenty. [`axfr`] fetches the
//! same from a primary over TCP and keeps it fresh by its SOA serial.
//!
//! - [`axfr`]: the zone transfer, the SOA poll and the task that keeps a reference fresh.
//!
//! - [`Delegations`], [`DelegationsBuilder`]: the compact store and how it is filled.
//! - [`load_zone_file`], [`parse_zone_reader`]: a reference from a zone file, through the
//!   streaming reader of [`crate::zonefile`].
//! - [`LiveReference`]: the reference in force, replaceable while samplers read it.
//! - [`ReferenceError`]: file:line errors, I/O and transfer failures.

pub mod axfr;
mod delegations;
mod error;
mod live;
mod stream;

pub use delegations::{Delegations, DelegationsBuilder};
pub use error::ReferenceError;
pub use live::LiveReference;
pub use stream::{load_zone_file, parse_zone_reader};

use crate::config::{Object, ObjectClass, ReferenceSource};
use std::collections::HashMap;
use std::sync::Arc;

/// The references of every TLD that has one, by object name, and the tasks keeping AXFR
/// references fresh.
pub type Started = (
    HashMap<String, Arc<LiveReference>>,
    Vec<tokio::task::JoinHandle<()>>,
);

/// Loads every zone-file reference (streamed, off the async workers) and starts a
/// [`axfr::keep_fresh`] task for every AXFR reference (which starts empty: a primary that is
/// down at start delays sampling, not monitoring). A zone file that cannot be read fails
/// with (object, file, error).
pub async fn start(
    objects: &[Object],
    metrics: &crate::metrics::Metrics,
    cancel: &tokio_util::sync::CancellationToken,
) -> Result<Started, (String, std::path::PathBuf, ReferenceError)> {
    let mut refs = HashMap::new();
    let mut tasks = Vec::new();
    for o in objects.iter().filter(|o| o.class == ObjectClass::Tld) {
        let (Some(r), Some(apex)) = (&o.reference, &o.zone) else {
            continue;
        };
        match &r.source {
            ReferenceSource::ZoneFile(path) => {
                let (p, a) = (path.clone(), apex.clone());
                let d = tokio::task::spawn_blocking(move || load_zone_file(&p, Some(&a)))
                    .await
                    .map_err(|e| {
                        (
                            o.name.clone(),
                            path.clone(),
                            ReferenceError::Zone {
                                file: path.clone(),
                                reason: e.to_string(),
                            },
                        )
                    })?
                    .map_err(|e| (o.name.clone(), path.clone(), e))?;
                tracing::info!(object = %o.name, delegations = d.len(), serial = d.serial(), bytes = d.heap_bytes(), rate = r.sample_rate.get(), "reference zone loaded; sampling every node");
                metrics
                    .reference_serial
                    .with_label_values(&[&o.name])
                    .set(i64::from(d.serial()));
                metrics
                    .reference_delegations
                    .with_label_values(&[&o.name])
                    .set(d.len() as i64);
                refs.insert(o.name.clone(), Arc::new(LiveReference::new(d)));
            }
            ReferenceSource::Axfr {
                primary,
                refresh,
                limits,
            } => {
                let live = Arc::new(LiveReference::new(
                    DelegationsBuilder::new(apex.clone()).finish(),
                ));
                let src = axfr::AxfrSource {
                    primary: primary.clone(),
                    zone: apex.clone(),
                    refresh: *refresh,
                    limits: *limits,
                };
                tasks.push(tokio::spawn(axfr::keep_fresh(
                    o.name.clone(),
                    src,
                    live.clone(),
                    metrics.clone(),
                    cancel.clone(),
                )));
                refs.insert(o.name.clone(), live);
            }
        }
    }
    Ok((refs, tasks))
}
