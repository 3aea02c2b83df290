//! The matrix, cell by cell: for every cell of docs/matrix.md a row that reaches its grade and a row
//! just below its threshold that does not. Time is simulated: the hour-long cells take
//! microseconds.

use super::ConditionClocks;
use super::*;
use crate::config::{
    Check, CheckRole, Expect, Licensor, Object, ObjectClass, Scope, Server, Tier, Transport,
};
use crate::probe::Outcome;
use crate::stats::{wilson_interval, Ratio, RecentCounts, SlowCount, WindowSnapshot, Z_95};
use std::collections::HashMap;
use std::time::Duration;

const T0: u64 = 1_800_000_000_000;
const MIN: u64 = 60_000;

fn rules() -> Rules {
    Rules::miit_2011()
}

/// A window with `ok` successes out of `n`, `slow_over` of the successes slower than 5 s,
/// `errors` data errors among `checked`.
fn window(n: u64, ok: u64, slow_over: u64, checked: u64, errors: u64) -> WindowSnapshot {
    let mut outcomes = [0u64; Outcome::COUNT];
    outcomes[Outcome::Ok.index()] = ok;
    outcomes[Outcome::Timeout.index()] = n - ok;
    WindowSnapshot {
        window_start: T0 - 300_000,
        window_end: T0,
        samples: n,
        outcomes,
        success: Ratio::new(ok, n),
        latency: None,
        slow: vec![SlowCount {
            threshold: Duration::from_secs(5),
            over: slow_over,
            of: ok,
        }],
        checked,
        missing: 0,
        wrong: errors,
        data_error: Ratio::new(errors, checked),
        last_success: if ok > 0 {
            Some(T0 - 1_000)
        } else {
            Some(T0 - 30 * MIN)
        },
        failing_since: None,
        late_dropped: 0,
    }
}

fn healthy() -> AddressInput {
    addr(window(300, 300, 0, 0, 0), false)
}

fn stopped() -> AddressInput {
    addr(window(300, 0, 0, 0, 0), true)
}

fn addr(w: WindowSnapshot, stopped: bool) -> AddressInput {
    let recent = if stopped {
        RecentCounts {
            attempts: 6,
            successes: 0,
            local_errors: 0,
            since: T0 - 60_000,
        }
    } else {
        RecentCounts {
            attempts: 6,
            successes: w.success.num.min(6),
            local_errors: 0,
            since: T0 - 60_000,
        }
    };
    AddressInput {
        label: "x".into(),
        window: w,
        recent,
        key_domain_errors: 0,
    }
}

/// A server whose success upper bound over `n` probes is just below (`bad = true`) or just at
/// or above `threshold`.
fn success_near(threshold: f64, bad: bool) -> AddressInput {
    let n = 1000;
    // The largest k whose Wilson upper bound is below the threshold.
    let k = (0..=n)
        .rev()
        .find(|&k| wilson_interval(k, n, Z_95).1 < threshold)
        .expect("k");
    let k = if bad { k } else { k + 1 };
    addr(window(n, k, 0, 0, 0), false)
}

/// A server whose data error lower bound is just above (`over = true`) or just at or below
/// `threshold`.
fn data_error_near(threshold: f64, over: bool) -> AddressInput {
    let n = 100_000_000u64;
    // The smallest error count whose Wilson lower bound is above the threshold.
    let (mut lo, mut hi) = (0u64, n);
    while lo < hi {
        let mid = (lo + hi) / 2;
        if wilson_interval(mid, n, Z_95).0 > threshold {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    let e = if over { lo } else { lo - 1 };
    addr(window(300, 300, 0, n, e), false)
}

fn server(name: &str, a: AddressInput) -> ServerInput {
    ServerInput {
        name: name.into(),
        addresses: vec![a],
    }
}

fn object(
    class: ObjectClass,
    tier: Option<Tier>,
    scope: Option<Scope>,
    licensed_by: Option<Licensor>,
    n: usize,
) -> Object {
    Object {
        class,
        name: "obj".into(),
        display_name: "obj".into(),
        tier,
        operator: None,
        scope,
        licensed_by,
        zone: None,
        servers: (0..n)
            .map(|i| Server {
                name: format!("s{i}"),
                host: None,
                pinned: vec![],
                port: 53,
            })
            .collect(),
        checks: vec![Check {
            qname: hickory_proto::rr::Name::root(),
            qtype: hickory_proto::rr::RecordType::SOA,
            expect: Expect::Answer,
            values: vec![],
            transport: Transport::Udp,
            role: CheckRole::Plain,
            recursion_desired: false,
            authoritative: true,
        }],
        registry: None,
        reference: None,
        dnssec: None,
    }
}

fn tld() -> Object {
    object(ObjectClass::Tld, None, None, None, 5)
}

fn grade_of(o: &Object, servers: Vec<AddressInput>, registry: RegistryInput) -> Assessment {
    let servers: Vec<ServerInput> = servers
        .into_iter()
        .enumerate()
        .map(|(i, a)| server(&format!("s{i}"), a))
        .collect();
    let input = ObjectInput {
        object: o,
        servers: &servers,
        registry,
    };
    evaluate(
        &input,
        &rules(),
        &mut ConditionClocks::default(),
        &HashMap::new(),
        T0,
    )
}

fn g(o: &Object, servers: Vec<AddressInput>) -> Option<Level> {
    grade_of(o, servers, RegistryInput::default()).grade
}

fn nodes(bad: usize, total: usize, bad_kind: fn() -> AddressInput) -> Vec<AddressInput> {
    (0..total)
        .map(|i| if i < bad { bad_kind() } else { healthy() })
        .collect()
}

fn bad_success() -> AddressInput {
    success_near(0.5, true)
}

// ---- 顶级域名系统 ------------------------------------------------------------------------

#[test]
fn tld_i_every_node_stopped() {
    let a = grade_of(&tld(), nodes(5, 5, stopped), RegistryInput::default());
    assert_eq!(a.grade, Some(Level::I));
    assert_eq!(a.rule.as_deref(), Some("tld.system_stopped"));
    assert_eq!(a.authority.as_ref().unwrap().lead_zh, "互联网应急办");
    assert!(a.authority.as_ref().unwrap().notify[0].contains("CNCERT"));
}

#[test]
fn tld_i_below_four_of_five_stopped_is_ii() {
    assert_eq!(g(&tld(), nodes(4, 5, stopped)), Some(Level::II));
}

#[test]
fn tld_ii_half_or_more_nodes_bad() {
    assert_eq!(g(&tld(), nodes(3, 5, bad_success)), Some(Level::II));
    let four = object(ObjectClass::Tld, None, None, None, 4);
    assert_eq!(
        g(&four, nodes(2, 4, bad_success)),
        Some(Level::II),
        "exactly half"
    );
}

#[test]
fn tld_ii_below_one_fewer_than_half_is_iii() {
    assert_eq!(g(&tld(), nodes(2, 5, bad_success)), Some(Level::III));
    let four = object(ObjectClass::Tld, None, None, None, 4);
    assert_eq!(g(&four, nodes(1, 4, bad_success)), Some(Level::III));
}

#[test]
fn tld_bad_node_success_threshold_is_on_the_upper_bound() {
    assert_eq!(
        g(
            &tld(),
            vec![
                success_near(0.5, true),
                healthy(),
                healthy(),
                healthy(),
                healthy()
            ]
        ),
        Some(Level::III)
    );
    assert_eq!(
        g(
            &tld(),
            vec![
                success_near(0.5, false),
                healthy(),
                healthy(),
                healthy(),
                healthy()
            ]
        ),
        None
    );
}

#[test]
fn tld_ii_half_the_nodes_slower_than_5s() {
    // Median above 5 s: 151 of 300 replies slower than 5 s; exactly half is not above.
    let slow = || addr(window(300, 300, 151, 0, 0), false);
    let half = || addr(window(300, 300, 150, 0, 0), false);
    assert_eq!(g(&tld(), nodes(3, 5, slow)), Some(Level::II));
    assert_eq!(g(&tld(), nodes(3, 5, half)), None);
}

#[test]
fn tld_ii_data_error_above_0_1_percent() {
    let mut v = nodes(0, 5, healthy);
    v[0] = data_error_near(0.001, true);
    assert_eq!(g(&tld(), v), Some(Level::II));
}

#[test]
fn tld_ii_below_data_error_at_0_1_percent_is_iii() {
    let mut v = nodes(0, 5, healthy);
    v[0] = data_error_near(0.001, false);
    assert_eq!(g(&tld(), v), Some(Level::III));
}

#[test]
fn tld_ii_any_key_domain_error() {
    let mut v = nodes(0, 5, healthy);
    v[2].key_domain_errors = 1;
    let a = grade_of(&tld(), v, RegistryInput::default());
    assert_eq!(a.grade, Some(Level::II));
    assert_eq!(a.rule.as_deref(), Some("tld.key_domain_error"));
    assert_eq!(
        g(&tld(), nodes(0, 5, healthy)),
        None,
        "no key-domain error, no grade"
    );
}

#[test]
fn tld_iii_one_bad_node() {
    assert_eq!(g(&tld(), nodes(1, 5, bad_success)), Some(Level::III));
    assert_eq!(
        g(&tld(), nodes(1, 5, stopped)),
        Some(Level::III),
        "a stopped node is a bad node"
    );
}

#[test]
fn tld_iii_below_no_bad_node() {
    assert_eq!(g(&tld(), nodes(0, 5, healthy)), None);
}

#[test]
fn tld_iii_data_error_above_0_01_percent() {
    let mut v = nodes(0, 5, healthy);
    v[0] = data_error_near(0.0001, true);
    assert_eq!(g(&tld(), v), Some(Level::III));
}

#[test]
fn tld_iii_below_data_error_at_0_01_percent() {
    let mut v = nodes(0, 5, healthy);
    v[0] = data_error_near(0.0001, false);
    assert_eq!(g(&tld(), v), None);
}

fn registration_outage(minutes: u64) -> Assessment {
    let o = tld();
    let r = rules();
    let mut clocks = ConditionClocks::default();
    let reg = RegistryInput {
        registration_unavailable: true,
        ..RegistryInput::default()
    };
    let mut last = None;
    // Evaluate every 10 simulated minutes, then at the mark.
    let mut t = 0;
    while t <= minutes {
        let servers: Vec<ServerInput> = nodes(0, 5, healthy)
            .into_iter()
            .map(|a| server("n", a))
            .collect();
        let input = ObjectInput {
            object: &o,
            servers: &servers,
            registry: reg,
        };
        last = Some(evaluate(
            &input,
            &r,
            &mut clocks,
            &HashMap::new(),
            T0 + t * MIN,
        ));
        t = if t + 10 > minutes && t != minutes {
            minutes
        } else {
            t + 10
        };
    }
    last.expect("evaluated")
}

#[test]
fn tld_iii_registration_unavailable_more_than_4h() {
    let a = registration_outage(4 * 60 + 1);
    assert_eq!(a.grade, Some(Level::III));
    assert_eq!(
        a.onset,
        Some(T0),
        "the clock counts from the first tick that saw the outage"
    );
}

#[test]
fn tld_iii_below_registration_unavailable_3h59_is_iv_with_escalation_time() {
    let a = registration_outage(3 * 60 + 59);
    assert_eq!(a.grade, Some(Level::IV));
    let next = a.next_escalation.expect("escalation time shown");
    assert_eq!(next.grade, Level::III);
    assert_eq!(next.at, T0 + 4 * 60 * MIN);
}

#[test]
fn tld_iv_registration_degraded_or_query_unavailable() {
    let o = tld();
    for reg in [
        RegistryInput {
            registration_degraded: true,
            ..RegistryInput::default()
        },
        RegistryInput {
            query_unavailable: true,
            ..RegistryInput::default()
        },
    ] {
        let a = grade_of(&o, nodes(0, 5, healthy), reg);
        assert_eq!(a.grade, Some(Level::IV), "{reg:?}");
        assert_eq!(a.authority.unwrap().lead_zh, "涉事单位自行处置");
    }
}

#[test]
fn tld_iv_below_registry_healthy() {
    assert_eq!(
        grade_of(&tld(), nodes(0, 5, healthy), RegistryInput::default()).grade,
        None
    );
}

#[test]
fn unknown_servers_are_never_bad() {
    // 29 probes, all failed but not stopped (no attempts in the stop window): unknown.
    let few = addr(window(29, 0, 0, 0, 0), false);
    let few = AddressInput {
        recent: RecentCounts {
            attempts: 0,
            successes: 0,
            local_errors: 0,
            since: T0 - 60_000,
        },
        ..few
    };
    assert_eq!(
        g(
            &tld(),
            vec![few.clone(), few.clone(), few.clone(), few.clone(), few]
        ),
        None
    );
}

// ---- 域名服务机构 -------------------------------------------------------------------------

fn inst(tier: Tier) -> Object {
    object(ObjectClass::Institution, Some(tier), None, None, 2)
}

#[test]
fn institution_i_tier1_stopped_is_candidate_until_confirmed() {
    let o = inst(Tier::One);
    let a = grade_of(&o, vec![stopped(), stopped()], RegistryInput::default());
    assert_eq!(a.grade, Some(Level::II));
    assert_eq!(a.candidate, Some(Level::I));
    let mut confirmed = HashMap::new();
    confirmed.insert(object_key(&o), Level::I);
    let input = ObjectInput {
        object: &o,
        servers: &[server("a", stopped()), server("b", stopped())],
        registry: RegistryInput::default(),
    };
    let a = evaluate(
        &input,
        &rules(),
        &mut ConditionClocks::default(),
        &confirmed,
        T0,
    );
    assert_eq!(a.grade, Some(Level::I));
    assert_eq!(a.candidate, None);
    assert_eq!(a.authority.unwrap().lead_zh, "互联网应急办");
}

#[test]
fn institution_i_below_one_address_still_answering() {
    let a = grade_of(
        &inst(Tier::One),
        vec![stopped(), healthy()],
        RegistryInput::default(),
    );
    assert_eq!(a.candidate, None);
    assert_ne!(a.grade, Some(Level::I));
}

#[test]
fn institution_ii_tier1_success_below_50_percent() {
    // One address: the pooled figures are the address's own.
    assert_eq!(
        g(&inst(Tier::One), vec![success_near(0.5, true)]),
        Some(Level::II)
    );
}

#[test]
fn institution_ii_below_success_at_50_percent_is_iii() {
    assert_eq!(
        g(&inst(Tier::One), vec![success_near(0.5, false)]),
        Some(Level::III)
    );
}

#[test]
fn institution_ii_tier1_slower_than_5s() {
    let slow = || addr(window(300, 300, 151, 0, 0), false);
    let at = || addr(window(300, 300, 150, 0, 0), false);
    assert_eq!(g(&inst(Tier::One), vec![slow(), slow()]), Some(Level::II));
    assert_eq!(g(&inst(Tier::One), vec![at(), at()]), None);
}

#[test]
fn institution_ii_tier1_data_error_above_1_percent() {
    assert_eq!(
        g(
            &inst(Tier::One),
            vec![data_error_near(0.01, true), healthy()]
        ),
        Some(Level::II)
    );
}

#[test]
fn institution_ii_below_data_error_at_1_percent_is_iii() {
    assert_eq!(
        g(&inst(Tier::One), vec![data_error_near(0.01, false)]),
        Some(Level::III)
    );
}

#[test]
fn institution_iii_tier1_success_below_80_percent() {
    assert_eq!(
        g(&inst(Tier::One), vec![success_near(0.8, true)]),
        Some(Level::III)
    );
}

#[test]
fn institution_iii_below_success_at_80_percent() {
    assert_eq!(g(&inst(Tier::One), vec![success_near(0.8, false)]), None);
}

#[test]
fn institution_iii_tier1_data_error_above_0_1_percent() {
    assert_eq!(
        g(&inst(Tier::One), vec![data_error_near(0.001, true)]),
        Some(Level::III)
    );
}

#[test]
fn institution_iii_below_data_error_at_0_1_percent() {
    assert_eq!(
        g(&inst(Tier::One), vec![data_error_near(0.001, false)]),
        None
    );
}

#[test]
fn institution_iv_registration_system_unavailable() {
    let a = grade_of(
        &inst(Tier::One),
        vec![healthy(), healthy()],
        RegistryInput {
            registration_unavailable: true,
            ..RegistryInput::default()
        },
    );
    assert_eq!(a.grade, Some(Level::IV));
    assert_eq!(
        grade_of(
            &inst(Tier::One),
            vec![healthy(), healthy()],
            RegistryInput::default()
        )
        .grade,
        None
    );
}

#[test]
fn institution_iv_tier2_any_degradation_led_by_the_unit() {
    let a = grade_of(
        &inst(Tier::Two),
        vec![stopped(), stopped()],
        RegistryInput::default(),
    );
    assert_eq!(a.grade, Some(Level::IV));
    assert_eq!(a.candidate, None, "tier 2 never becomes candidate I");
    assert_eq!(a.authority.unwrap().lead_zh, "涉事单位自行处置");
    assert_eq!(
        g(&inst(Tier::Two), vec![success_near(0.8, true)]),
        Some(Level::IV)
    );
}

#[test]
fn institution_iv_below_tier2_healthy() {
    assert_eq!(g(&inst(Tier::Two), vec![success_near(0.8, false)]), None);
}

// ---- 互联网站 ----------------------------------------------------------------------------

fn web(tier: Tier, lic: Licensor) -> Object {
    object(ObjectClass::Website, Some(tier), None, Some(lic), 2)
}

#[test]
fn website_iii_tier1_stopped_is_candidate_until_confirmed() {
    let o = web(Tier::One, Licensor::Province("广东".into()));
    let a = grade_of(&o, vec![stopped(), stopped()], RegistryInput::default());
    assert_eq!((a.grade, a.candidate), (Some(Level::IV), Some(Level::III)));
    let mut confirmed = HashMap::new();
    confirmed.insert(object_key(&o), Level::III);
    let input = ObjectInput {
        object: &o,
        servers: &[server("a", stopped()), server("b", stopped())],
        registry: RegistryInput::default(),
    };
    let a = evaluate(
        &input,
        &rules(),
        &mut ConditionClocks::default(),
        &confirmed,
        T0,
    );
    assert_eq!((a.grade, a.candidate), (Some(Level::III), None));
    assert_eq!(a.authority.unwrap().lead_zh, "广东省通信管理局");
}

#[test]
fn website_iii_below_tier2_stopped_is_iv_without_candidate() {
    let a = grade_of(
        &web(Tier::Two, Licensor::Miit),
        vec![stopped(), stopped()],
        RegistryInput::default(),
    );
    assert_eq!((a.grade, a.candidate), (Some(Level::IV), None));
}

#[test]
fn website_iii_led_by_the_emergency_office_when_licensed_by_miit() {
    let o = web(Tier::One, Licensor::Miit);
    let a = authority(&o, Level::III, &rules());
    assert_eq!(a.lead_zh, "互联网应急办");
}

/// Every province's official administration names, as the rules table must render them.
const OFFICIAL: [(&str, &str, &str); 31] = [
    ("北京", "北京市通信管理局", "Beijing"),
    ("天津", "天津市通信管理局", "Tianjin"),
    ("河北", "河北省通信管理局", "Hebei"),
    ("山西", "山西省通信管理局", "Shanxi"),
    ("内蒙古", "内蒙古自治区通信管理局", "Inner Mongolia"),
    ("辽宁", "辽宁省通信管理局", "Liaoning"),
    ("吉林", "吉林省通信管理局", "Jilin"),
    ("黑龙江", "黑龙江省通信管理局", "Heilongjiang"),
    ("上海", "上海市通信管理局", "Shanghai"),
    ("江苏", "江苏省通信管理局", "Jiangsu"),
    ("浙江", "浙江省通信管理局", "Zhejiang"),
    ("安徽", "安徽省通信管理局", "Anhui"),
    ("福建", "福建省通信管理局", "Fujian"),
    ("江西", "江西省通信管理局", "Jiangxi"),
    ("山东", "山东省通信管理局", "Shandong"),
    ("河南", "河南省通信管理局", "Henan"),
    ("湖北", "湖北省通信管理局", "Hubei"),
    ("湖南", "湖南省通信管理局", "Hunan"),
    ("广东", "广东省通信管理局", "Guangdong"),
    ("广西", "广西壮族自治区通信管理局", "Guangxi"),
    ("海南", "海南省通信管理局", "Hainan"),
    ("重庆", "重庆市通信管理局", "Chongqing"),
    ("四川", "四川省通信管理局", "Sichuan"),
    ("贵州", "贵州省通信管理局", "Guizhou"),
    ("云南", "云南省通信管理局", "Yunnan"),
    ("西藏", "西藏自治区通信管理局", "Xizang"),
    ("陕西", "陕西省通信管理局", "Shaanxi"),
    ("甘肃", "甘肃省通信管理局", "Gansu"),
    ("青海", "青海省通信管理局", "Qinghai"),
    ("宁夏", "宁夏回族自治区通信管理局", "Ningxia"),
    ("新疆", "新疆维吾尔自治区通信管理局", "Xinjiang"),
];

#[test]
fn provincial_leads_carry_the_official_names_of_all_31_administrations() {
    let r = rules();
    for (p, zh, en) in OFFICIAL {
        let en = format!("{en} Communications Administration");
        let resolver = rec(Scope::Province(p.into()));
        let a = authority(&resolver, Level::III, &r);
        assert_eq!(
            (a.lead_zh.as_str(), a.lead_en.as_str()),
            (zh, en.as_str()),
            "{p}"
        );
        let site = web(Tier::One, Licensor::Province(p.into()));
        assert_eq!(authority(&site, Level::III, &r).lead_zh, zh, "{p}");
        // Every official name reads back as its province for filters and contacts.
        assert_eq!(crate::config::authority_province(zh), Some(p), "{zh}");
    }
}

#[test]
fn website_never_i_or_ii() {
    let o = web(Tier::One, Licensor::Miit);
    let mut confirmed = HashMap::new();
    confirmed.insert(object_key(&o), Level::I);
    let input = ObjectInput {
        object: &o,
        servers: &[server("a", stopped()), server("b", stopped())],
        registry: RegistryInput::default(),
    };
    let a = evaluate(
        &input,
        &rules(),
        &mut ConditionClocks::default(),
        &confirmed,
        T0,
    );
    assert_eq!(a.grade, Some(Level::III));
}

#[test]
fn website_iv_a_bad_node() {
    assert_eq!(
        g(
            &web(Tier::Two, Licensor::Miit),
            vec![bad_success(), healthy()]
        ),
        Some(Level::IV)
    );
}

#[test]
fn website_iv_below_healthy() {
    assert_eq!(
        g(
            &web(Tier::Two, Licensor::Miit),
            vec![success_near(0.5, false), healthy()]
        ),
        None
    );
}

// ---- 电信运营企业的递归 -------------------------------------------------------------------

fn rec(scope: Scope) -> Object {
    object(ObjectClass::Recursive, None, Some(scope), None, 2)
}

/// A resolver system stopped since T0 (last success just before), evaluated every 10 minutes
/// until `minutes`.
fn resolver_outage(o: &Object, minutes: u64) -> Assessment {
    let r = rules();
    let mut clocks = ConditionClocks::default();
    let mut last;
    let mut t = 0;
    loop {
        let mut w = window(300, 0, 0, 0, 0);
        w.last_success = Some(T0 - 1);
        let a = addr(w, true);
        let input = ObjectInput {
            object: o,
            servers: &[server("a", a.clone()), server("b", a)],
            registry: RegistryInput::default(),
        };
        last = Some(evaluate(
            &input,
            &r,
            &mut clocks,
            &HashMap::new(),
            T0 + t * MIN,
        ));
        if t == minutes {
            break;
        }
        t = (t + 10).min(minutes);
    }
    last.expect("evaluated")
}

#[test]
fn recursive_ii_multi_province_stopped_more_than_1h() {
    let o = rec(Scope::MultiProvince(vec!["北京".into(), "上海".into()]));
    let a = resolver_outage(&o, 61);
    assert_eq!(a.grade, Some(Level::II));
    assert_eq!(a.onset, Some(T0));
    assert_eq!(a.authority.unwrap().lead_zh, "互联网应急办");
}

#[test]
fn recursive_ii_below_59_min_is_iv_with_escalation_at_onset_plus_1h() {
    let o = rec(Scope::MultiProvince(vec!["北京".into(), "上海".into()]));
    let a = resolver_outage(&o, 59);
    assert_eq!(a.grade, Some(Level::IV));
    assert_eq!(
        a.next_escalation,
        Some(Escalation {
            grade: Level::II,
            at: T0 + 60 * MIN
        })
    );
    // Exactly one hour is not "more than 1 h".
    assert_eq!(resolver_outage(&o, 60).grade, Some(Level::IV));
}

#[test]
fn recursive_iii_province_stopped_more_than_1h() {
    let o = rec(Scope::Province("广东".into()));
    let a = resolver_outage(&o, 61);
    assert_eq!(a.grade, Some(Level::III));
    let au = a.authority.unwrap();
    assert_eq!(au.lead_zh, "广东省通信管理局");
    assert_eq!(au.lead_en, "Guangdong Communications Administration");
    assert!(au.notify[0].contains("CNCERT"));
}

#[test]
fn recursive_iii_below_59_min_is_iv() {
    let o = rec(Scope::Province("广东".into()));
    let a = resolver_outage(&o, 59);
    assert_eq!(a.grade, Some(Level::IV));
    assert_eq!(a.next_escalation.map(|e| e.grade), Some(Level::III));
}

#[test]
fn recursive_iv_local_network_stopped_never_escalates() {
    let o = rec(Scope::LocalNetwork("广州本地网".into()));
    let a = resolver_outage(&o, 600);
    assert_eq!(a.grade, Some(Level::IV));
    assert_eq!(a.next_escalation, None);
    assert_eq!(a.authority.unwrap().lead_zh, "涉事单位自行处置");
}

#[test]
fn recursive_iv_below_one_address_answering_is_no_grade() {
    let o = rec(Scope::Province("广东".into()));
    assert_eq!(g(&o, vec![stopped(), healthy()]), None);
}

/// A provincial resolver stopped from T0, healthy during `healthy_minutes`, evaluated every
/// simulated minute up to `until` minutes.
fn outage_with_blip(healthy_minutes: std::ops::Range<u64>, until: u64) -> Assessment {
    let o = rec(Scope::Province("广东".into()));
    let r = rules();
    let mut clocks = ConditionClocks::default();
    let mut last = None;
    for t in 0..=until {
        let a = if healthy_minutes.contains(&t) {
            healthy()
        } else {
            let mut w = window(300, 0, 0, 0, 0);
            // The last success is the end of the blip, once there was one.
            w.last_success = Some(if t >= healthy_minutes.end {
                T0 + (healthy_minutes.end - 1) * MIN
            } else {
                T0 - 1
            });
            addr(w, true)
        };
        let input = ObjectInput {
            object: &o,
            servers: &[server("a", a)],
            registry: RegistryInput::default(),
        };
        last = Some(evaluate(
            &input,
            &r,
            &mut clocks,
            &HashMap::new(),
            T0 + t * MIN,
        ));
    }
    last.expect("evaluated")
}

#[test]
fn recursive_blip_shorter_than_clear_after_keeps_the_onset() {
    // Three good minutes (shorter than clear_after = 5 min) do not reset the 1 h count.
    let a = outage_with_blip(41..44, 62);
    assert_eq!(a.grade, Some(Level::III));
    assert_eq!(a.onset, Some(T0));
}

#[test]
fn recursive_recovery_longer_than_clear_after_restarts_the_clock() {
    let a = outage_with_blip(41..47, 62);
    assert_eq!(
        a.grade,
        Some(Level::IV),
        "a new outage from minute 47 is only 15 min old"
    );
    assert!(a.onset.is_some_and(|o| o > T0 + 40 * MIN));
}

#[test]
fn no_data_after_a_restart_does_not_clear_a_running_clock() {
    let o = rec(Scope::Province("广东".into()));
    let r = rules();
    let mut clocks = ConditionClocks::default();
    let down = || {
        let mut w = window(300, 0, 0, 0, 0);
        w.last_success = Some(T0 - 1);
        addr(w, true)
    };
    let eval = |clocks: &mut ConditionClocks, a: AddressInput, t: u64| {
        let input = ObjectInput {
            object: &o,
            servers: &[server("a", a)],
            registry: RegistryInput::default(),
        };
        evaluate(&input, &r, clocks, &HashMap::new(), T0 + t)
    };
    eval(&mut clocks, down(), 0);
    eval(&mut clocks, down(), 40 * MIN);
    // The monitor restarts: no probe results at all for a while.
    let empty = AddressInput {
        label: "a".into(),
        window: window(0, 0, 0, 0, 0),
        recent: RecentCounts {
            attempts: 0,
            successes: 0,
            local_errors: 0,
            since: T0,
        },
        key_domain_errors: 0,
    };
    assert_eq!(
        eval(&mut clocks, empty, 50 * MIN).grade,
        None,
        "no data, no grade"
    );
    let a = eval(&mut clocks, down(), 61 * MIN);
    assert_eq!(a.grade, Some(Level::III));
    assert_eq!(a.onset, Some(T0));
}

#[test]
fn a_stop_begins_at_the_first_failed_probe_of_the_last_address_to_fail() {
    // Never answered since the daemon started 20 s ago: the onset is the first probe, not
    // the start of the 60 s stop window (which would fall before the daemon existed).
    let since = |at: u64| {
        let mut a = stopped();
        a.window.last_success = None;
        a.window.failing_since = Some(at);
        a
    };
    let a = grade_of(
        &tld(),
        (0..5).map(|_| since(T0 - 20_000)).collect(),
        RegistryInput::default(),
    );
    assert_eq!(a.grade, Some(Level::I));
    assert_eq!(a.onset, Some(T0 - 20_000));
    // Addresses that stopped at different times: the system stopped with the last of them.
    let mut servers: Vec<AddressInput> = (0..5).map(|_| since(T0 - 50_000)).collect();
    servers[3].window.failing_since = Some(T0 - 12_000);
    let a = grade_of(&tld(), servers, RegistryInput::default());
    assert_eq!(a.onset, Some(T0 - 12_000));
}
