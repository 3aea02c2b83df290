//! The probed addresses of each configured server: pinned ones, and what its host name
//! resolves to, kept current; one probe loop (and, for a TLD node with a reference, one
//! sampler) per address.

use crate::config::{Check, Config, Object, ObjectClass, Server};
use crate::probe::schedule::{
    spawn_address_loop, spawn_sampler, ProbeContext, ReferenceSet, Target,
};
use crate::state::{lock, ResolveState, Shared};
use hickory_resolver::TokioResolver;
use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// What the supervision of one object's servers shares; `cancel` is the object's token, so a
/// reload can stop one object's loops and leave the others running.
pub(super) struct Servers {
    pub(super) references: Arc<HashMap<String, ReferenceSet>>,
    pub(super) config: Arc<Config>,
    pub(super) ctx: Arc<ProbeContext>,
    pub(super) shared: Shared,
    pub(super) resolver: Option<Arc<TokioResolver>>,
    pub(super) cancel: CancellationToken,
}

/// The store's addresses of each server of an object as they were before a reload, by server
/// name: the new supervision retires those it no longer wants.
pub(super) type Previous = HashMap<String, Vec<Arc<Target>>>;

impl Servers {
    /// Starts the supervision of each server of the object at `oi` in the configuration.
    pub(super) fn start_object(
        self: &Arc<Self>,
        oi: usize,
        mut previous: Previous,
    ) -> Vec<JoinHandle<()>> {
        let obj = &self.config.objects[oi];
        // One copy of the object's checks, shared by all its servers' address loops.
        let checks = Arc::new(obj.checks.clone());
        (0..obj.servers.len())
            .map(|si| {
                let before = previous.remove(&obj.servers[si].name).unwrap_or_default();
                tokio::spawn(self.clone().supervise(oi, si, checks.clone(), before))
            })
            .collect()
    }

    /// Keeps one configured server's set of probed addresses: pinned ones always, plus what
    /// its host name resolves to, re-resolved every `resolve_interval`. A name that fails to
    /// resolve keeps its last good addresses, and the failure is logged, counted and shown in
    /// the status. A server with only pinned addresses starts their loops and returns: with
    /// 10,000 of them, a task each waiting for the end would hold about 16 MiB for nothing
    /// (the loops stop with the object's token). After a reload, `before` holds the addresses
    /// the server had: those no longer wanted are retired on the first pass.
    async fn supervise(
        self: Arc<Self>,
        oi: usize,
        si: usize,
        checks: Arc<Vec<Check>>,
        before: Vec<Arc<Target>>,
    ) {
        let obj: &Object = &self.config.objects[oi];
        let server: &Server = &obj.servers[si];
        let mut loops: HashMap<SocketAddr, (Arc<Target>, CancellationToken)> = HashMap::new();
        // A name that does not resolve on the first pass after a reload keeps the addresses
        // it had, as it would have without the reload.
        let mut resolved: BTreeSet<SocketAddr> = match server.host {
            Some(_) => before
                .iter()
                .map(|t| t.address)
                .filter(|a| !server.pinned.contains(a))
                .collect(),
            None => BTreeSet::new(),
        };
        let mut before = Some(before);
        loop {
            let error = self.resolve(obj, server, &mut resolved).await;
            let wanted: BTreeSet<SocketAddr> = server
                .pinned
                .iter()
                .copied()
                .chain(resolved.iter().copied())
                .collect();
            for t in before.take().unwrap_or_default() {
                if !wanted.contains(&t.address) {
                    lock(&self.shared.store).ensure(&t, false);
                }
            }
            self.reconcile(obj, server, &wanted, &mut loops, &checks);
            self.show(obj, server, &wanted, error);
            if server.host.is_none() {
                return;
            }
            tokio::select! {
                _ = self.cancel.cancelled() => return,
                _ = tokio::time::sleep(self.config.daemon.resolve_interval) => {}
            }
        }
    }

    /// Resolves the server's host name, if it has one, into `resolved`; the error, if it
    /// failed (logged and counted here), leaves `resolved` as it was.
    async fn resolve(
        &self,
        obj: &Object,
        server: &Server,
        resolved: &mut BTreeSet<SocketAddr>,
    ) -> Option<String> {
        let host = server.host.as_ref()?;
        let error = match &self.resolver {
            None => "no system resolver configuration".to_string(),
            // Boxed: the resolver's future is large, and every server's task would carry its
            // size even when the server has only fixed addresses.
            Some(r) => match Box::pin(r.lookup_ip(host.as_str())).await {
                Ok(ips) => {
                    let now: BTreeSet<SocketAddr> = ips
                        .iter()
                        .map(|ip| SocketAddr::new(ip, server.port))
                        .collect();
                    if !now.is_empty() {
                        *resolved = now;
                        return None;
                    }
                    format!("{host} has no addresses")
                }
                Err(e) => format!("cannot resolve {host}: {e}"),
            },
        };
        tracing::warn!(object = %obj.name, server = %server.name, error = %error, "server host name does not resolve; keeping its last known addresses");
        self.shared
            .metrics
            .resolve_failures
            .with_label_values(&[obj.class.as_str(), &obj.name, &server.name])
            .inc();
        Some(error)
    }

    /// Stops the loops of addresses no longer wanted and starts those of new ones.
    fn reconcile(
        &self,
        obj: &Object,
        server: &Server,
        wanted: &BTreeSet<SocketAddr>,
        loops: &mut HashMap<SocketAddr, (Arc<Target>, CancellationToken)>,
        checks: &Arc<Vec<Check>>,
    ) {
        loops.retain(|addr, (target, token)| {
            let keep = wanted.contains(addr);
            if !keep {
                token.cancel();
                lock(&self.shared.store).ensure(target, false);
                tracing::info!(object = %obj.name, server = %server.name, address = %addr, "address no longer probed");
            }
            keep
        });
        for addr in wanted {
            if loops.contains_key(addr) {
                continue;
            }
            let target = Arc::new(Target {
                class: obj.class,
                object: obj.name.clone(),
                server: server.name.clone(),
                address: *addr,
            });
            lock(&self.shared.store).ensure(&target, true);
            let token = self.cancel.child_token();
            spawn_address_loop(
                self.ctx.clone(),
                target.clone(),
                checks.clone(),
                token.clone(),
            );
            if let (Some(r), Some(list), ObjectClass::Tld) =
                (&obj.reference, self.references.get(&obj.name), obj.class)
            {
                spawn_sampler(
                    self.ctx.clone(),
                    target.clone(),
                    list.clone(),
                    r.sample_rate,
                    r.max_in_flight,
                    token.clone(),
                );
            }
            loops.insert(*addr, (target, token));
        }
    }

    /// The server's addresses and resolution state, for the metrics and the status.
    fn show(
        &self,
        obj: &Object,
        server: &Server,
        wanted: &BTreeSet<SocketAddr>,
        error: Option<String>,
    ) {
        self.shared
            .metrics
            .server_addresses
            .with_label_values(&[obj.class.as_str(), &obj.name, &server.name])
            .set(wanted.len() as i64);
        let key = format!("{}/{}/{}", obj.class.as_str(), obj.name, server.name);
        lock(&self.shared.resolve).insert(
            key,
            ResolveState {
                addresses: wanted.iter().map(|a| a.to_string()).collect(),
                error,
            },
        );
    }
}

/// The resolver for server host names: the configured ones, or the system's.
pub(super) fn build_resolver(
    servers: &[SocketAddr],
) -> Result<TokioResolver, hickory_resolver::net::NetError> {
    use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
    if servers.is_empty() {
        return TokioResolver::builder_tokio()?.build();
    }
    let name_servers = servers
        .iter()
        .map(|a| {
            let mut udp = ConnectionConfig::udp();
            udp.port = a.port();
            let mut tcp = ConnectionConfig::tcp();
            tcp.port = a.port();
            NameServerConfig::new(a.ip(), true, vec![udp, tcp])
        })
        .collect();
    TokioResolver::builder_with_config(
        ResolverConfig::from_name_servers(name_servers),
        hickory_resolver::net::runtime::TokioRuntimeProvider::default(),
    )
    .build()
}
