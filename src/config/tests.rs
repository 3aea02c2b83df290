//! Each class of config error, with its line and column.

use super::validate::{MAX_NAME_CHARS, MAX_TEXT_CHARS};
use super::*;
use std::path::Path;

const GOOD: &str = r#"
[daemon]
listen = "127.0.0.1:9553"
timeout = "10s"

[[tld]]
name = "中国"
key_domains = ["政务.中国"]
  [[tld.node]]
  name = "a"
  addresses = ["127.0.0.1:5353", "::1"]
  [[tld.node]]
  name = "b"
  host = "b.example"

[[institution]]
name = "Registrar A"
tier = 1
  [[institution.server]]
  name = "ns1"
  addresses = ["127.0.0.2"]
  [[institution.check]]
  name = "www.example.cn"
  type = "A"
  values = ["192.0.2.1"]

[[website]]
name = "Example Web"
tier = 1
licensed_by = "广东省"
domain = "example.com.cn"
  [[website.server]]
  name = "ns1"
  addresses = ["127.0.0.3"]

[[recursive]]
operator = "Operator A"
name = "GD resolvers"
scope = "province"
province = "广东"
cached_names = ["www.example.cn"]
canary_zone = "canary.example.cn"
  [[recursive.server]]
  name = "r1"
  addresses = ["127.0.0.4"]

[[control]]
name = "root"
  [[control.server]]
  name = "x"
  addresses = ["127.0.0.5"]
"#;

fn errs(text: &str) -> Vec<ConfigError> {
    parse(Path::new("t.toml"), text)
        .expect_err("config must be rejected")
        .errors
}

fn one(text: &str) -> ConfigError {
    let e = errs(text);
    assert_eq!(e.len(), 1, "expected one error, got {e:?}");
    e.into_iter().next().unwrap()
}

#[test]
fn good_config_is_accepted_with_idna_and_defaults() {
    let c = parse(Path::new("t.toml"), GOOD).expect("valid");
    let tld = &c.objects[0];
    assert_eq!(tld.name, "xn--fiqs8s");
    assert_eq!(tld.display_name, "中国");
    assert_eq!(tld.servers.len(), 2);
    assert_eq!(tld.servers[0].pinned[0].port(), 5353);
    assert_eq!(tld.servers[0].pinned[1].port(), 53);
    assert_eq!(tld.servers[1].host.as_deref(), Some("b.example"));
    // SOA and NS of the apex, a name that must not exist, and the key domain as a referral.
    assert_eq!(tld.checks.len(), 4);
    assert_eq!(tld.checks[2].role, CheckRole::ExpectedNegative);
    assert_eq!(tld.checks[2].expect, Expect::NxDomain);
    assert_eq!(tld.checks[3].role, CheckRole::KeyDomain);
    assert_eq!(tld.checks[3].expect, Expect::Referral);
    assert_eq!(tld.checks[3].qname.to_ascii(), "xn--zfr164b.xn--fiqs8s.");
    let web = c.objects_of(ObjectClass::Website).next().unwrap();
    assert_eq!(web.licensed_by, Some(Licensor::Province("广东".into())));
    let rec = c.objects_of(ObjectClass::Recursive).next().unwrap();
    assert_eq!(rec.scope, Some(Scope::Province("广东".into())));
    assert_eq!(rec.checks.len(), 2);
    assert!(rec.checks.iter().all(|c| c.recursion_desired));
    assert_eq!(c.daemon.timeout.as_secs(), 10);
    assert_eq!(c.daemon.window.as_secs(), 300);
    assert_eq!(c.daemon.stop_window.as_secs(), 60);
}

#[test]
fn unknown_key_is_reported_at_its_line_and_column() {
    let text = GOOD.replace(
        "  name = \"ns1\"\n  addresses = [\"127.0.0.2\"]",
        "  name = \"ns1\"\n  adresses = [\"127.0.0.2\"]",
    );
    let e = one(&text);
    assert_eq!((e.line, e.column), (21, 3), "{e}");
    assert!(e.message.contains("adresses"), "{e}");
    assert_eq!(e.file, Path::new("t.toml"));
}

#[test]
fn syntax_error_has_line_and_column() {
    let e = one("[daemon]\nlisten = \"127.0.0.1:1\"\ntimeout = = 3\n");
    assert_eq!(e.line, 3, "{e}");
    assert!(e.column >= 9, "{e}");
}

#[test]
fn timeout_not_above_the_latency_threshold_is_refused() {
    let e = one(&GOOD.replace("timeout = \"10s\"", "timeout = \"5s\""));
    assert_eq!((e.line, e.column), (4, 11), "{e}");
    assert!(e.message.contains("5 s latency threshold"), "{e}");
    // 5.001 s is above the threshold and accepted.
    parse(
        Path::new("t.toml"),
        &GOOD.replace("timeout = \"10s\"", "timeout = \"5001ms\""),
    )
    .unwrap();
}

#[test]
fn bad_address_names_the_value() {
    let e = one(&GOOD.replace("\"127.0.0.1:5353\"", "\"127.0.0.300\""));
    assert_eq!((e.line, e.column), (11, 16), "{e}");
    assert!(e.message.contains("127.0.0.300"), "{e}");
}

#[test]
fn duplicate_names_point_at_the_second_and_name_the_first() {
    let text = GOOD.replace("  name = \"b\"\n  host", "  name = \"a\"\n  host");
    let e = one(&text);
    assert_eq!(e.line, 13, "{e}");
    assert!(e.message.contains("already used at line 10"), "{e}");

    let text = format!("{GOOD}\n[[control]]\nname = \"root\"\n  [[control.server]]\n  name = \"y\"\n  addresses = [\"127.0.0.6\"]\n");
    let e = one(&text);
    assert!(e.message.contains("duplicate control name"), "{e}");
    assert_eq!(e.line, 54, "{e}");
}

#[test]
fn empty_node_list_is_refused() {
    let e = one("[[tld]]\nname = \"cn\"\n");
    assert_eq!((e.line, e.column), (2, 8), "{e}");
    assert!(e.message.contains("no node"), "{e}");
}

#[test]
fn server_without_host_or_addresses_is_refused() {
    let e = one("[[tld]]\nname = \"cn\"\n[[tld.node]]\nname = \"a\"\n");
    assert_eq!((e.line, e.column), (4, 8), "{e}");
    assert!(e.message.contains("neither a host nor addresses"), "{e}");
}

#[test]
fn bad_tier_scope_province_and_licence_are_refused() {
    let e = one(&GOOD.replace(
        "tier = 1\n  [[institution.server]]",
        "tier = 3\n  [[institution.server]]",
    ));
    assert!(e.message.contains("tier must be 1 or 2"), "{e}");
    assert_eq!((e.line, e.column), (18, 8), "{e}");
    let e = one(&GOOD.replace("province = \"广东\"", "province = \"广束\""));
    assert!(e.message.contains("not a province"), "{e}");
    assert_eq!((e.line, e.column), (40, 12), "{e}");
    let e = one(&GOOD.replace("scope = \"province\"", "scope = \"nation\""));
    assert!(e.message.contains("multi-province"), "{e}");
    let e = one(&GOOD.replace("licensed_by = \"广东省\"", "licensed_by = \"Mars\""));
    assert!(e.message.contains("licensed_by"), "{e}");
}

#[test]
fn bad_names_types_and_values_are_refused() {
    let e = one(&GOOD.replace("type = \"A\"", "type = \"QQQ\""));
    assert!(e.message.contains("unknown query type"), "{e}");
    let e = one(&GOOD.replace("values = [\"192.0.2.1\"]", "values = [\"not-an-ip\"]"));
    assert!(e.message.contains("IPv4"), "{e}");
    assert_eq!((e.line, e.column), (25, 13), "{e}");
    let e = one(&GOOD.replace(
        "key_domains = [\"政务.中国\"]",
        "key_domains = [\"example.com\"]",
    ));
    assert!(e.message.contains("not below the TLD"), "{e}");
    let e = one(&GOOD.replace("name = \"中国\"", "name = \"a..b\""));
    assert!(e.message.contains("TLD name"), "{e}");
}

#[test]
fn every_error_is_reported_not_just_the_first() {
    let text = GOOD
        .replace("timeout = \"10s\"", "timeout = \"1s\"")
        .replace("\"127.0.0.1:5353\"", "\"nope\"")
        .replace(
            "tier = 1\n  [[institution.server]]",
            "tier = 0\n  [[institution.server]]",
        );
    let e = errs(&text);
    assert_eq!(e.len(), 3, "{e:?}");
    assert!(e.windows(2).all(|w| w[0].line <= w[1].line));
}

#[test]
fn daemon_ranges_are_checked() {
    for (from, to, needle) in [
        (
            "timeout = \"10s\"",
            "timeout = \"10s\"\ntick = \"7s\"",
            "whole number of ticks",
        ),
        (
            "timeout = \"10s\"",
            "timeout = \"10s\"\nstop_window = \"10m\"",
            "stop_window",
        ),
        (
            "timeout = \"10s\"",
            "timeout = \"10s\"\njitter = 0.9",
            "jitter",
        ),
        (
            "timeout = \"10s\"",
            "timeout = \"10s\"\ntick = \"0s\"\nwindow = \"60s\"",
            "tick must be at least 1s",
        ),
        (
            "timeout = \"10s\"",
            "timeout = \"10s\"\nglobal_rate = 0",
            "global_rate",
        ),
        ("timeout = \"10s\"", "timeout = \"10 parsecs\"", "unit"),
        (
            "listen = \"127.0.0.1:9553\"",
            "listen = \"localhost\"",
            "listen",
        ),
        (
            "timeout = \"10s\"",
            "timeout = \"10s\"\nresolvers = [\"dns.example\"]",
            "is not an IP address",
        ),
    ] {
        let e = one(&GOOD.replace(from, to));
        assert!(e.message.contains(needle), "{needle}: {e}");
    }
}

#[test]
fn display_is_file_line_column_message() {
    let e = one("[[tld]]\nname = \"cn\"\n");
    assert_eq!(e.to_string(), format!("t.toml:2:8: {}", e.message));
}

#[test]
fn provinces_normalise() {
    assert_eq!(normalize_province("广东省"), Some("广东"));
    assert_eq!(normalize_province("新疆维吾尔自治区"), Some("新疆"));
    assert_eq!(normalize_province("北京市"), Some("北京"));
    assert_eq!(normalize_province("内蒙古自治区"), Some("内蒙古"));
    assert_eq!(normalize_province("广东东"), None);
    assert_eq!(normalize_province("Guangdong"), None);
}

#[test]
fn maintenance_windows_and_retention() {
    let text = format!(
        "{GOOD}\n[[maintenance]]\nobject = \"tld/xn--fiqs8s\"\nstarts = \"2026-11-22T16:00:00Z\"\nends = \"2026-11-22T18:00:00Z\"\nreason = \"node upgrade\"\n"
    );
    let c = parse(Path::new("t.toml"), &text).expect("valid");
    assert_eq!(c.maintenance.len(), 1);
    assert_eq!(
        c.maintenance[0].ends - c.maintenance[0].starts,
        2 * 3600 * 1000
    );
    assert_eq!(c.daemon.ledger_retention.as_secs(), 365 * 86400);

    let e = one(&text.replace("tld/xn--fiqs8s", "tld/nope"));
    assert!(e.message.contains("not a configured object"), "{e}");
    assert_eq!((e.line, e.column), (54, 10), "{e}");
    let e = one(&text.replace(
        "ends = \"2026-11-22T18:00:00Z\"",
        "ends = \"2026-11-22T15:00:00Z\"",
    ));
    assert!(e.message.contains("end after it starts"), "{e}");
    let e = one(&text.replace("starts = \"2026-11-22T16:00:00Z\"", "starts = \"tomorrow\""));
    assert!(e.message.contains("RFC 3339"), "{e}");
    let e = one(&GOOD.replace(
        "timeout = \"10s\"",
        "timeout = \"10s\"\nledger_retention = \"1h\"",
    ));
    assert!(e.message.contains("ledger_retention"), "{e}");
}

#[test]
fn ledger_retention_has_a_year_minimum_unless_overridden() {
    let with =
        |extra: &str| GOOD.replace("timeout = \"10s\"", &format!("timeout = \"10s\"\n{extra}"));
    // Below a year without the override: an error at the value, naming the override.
    let e = one(&with("ledger_retention = \"90d\""));
    assert!(e.message.contains("365d minimum"), "{e}");
    assert!(e.message.contains("ledger_retention_below_minimum"), "{e}");
    assert_eq!((e.line, e.column), (5, 20), "{e}");
    // A year or more is accepted as it is.
    let c = parse(Path::new("t.toml"), &with("ledger_retention = \"366d\"")).expect("valid");
    assert_eq!(c.daemon.ledger_retention.as_secs(), 366 * 86400);
    // The explicit override keeps less.
    let c = parse(
        Path::new("t.toml"),
        &with("ledger_retention = \"90d\"\nledger_retention_below_minimum = true"),
    )
    .expect("valid with the override");
    assert_eq!(c.daemon.ledger_retention.as_secs(), 90 * 86400);
    // `false` is no override.
    let e = one(&with(
        "ledger_retention = \"90d\"\nledger_retention_below_minimum = false",
    ));
    assert!(e.message.contains("365d minimum"), "{e}");
    // The override never goes below a day.
    let e = one(&with(
        "ledger_retention = \"1h\"\nledger_retention_below_minimum = true",
    ));
    assert!(e.message.contains("at least 1d"), "{e}");
}

#[test]
fn ack_within_defaults_to_24h_and_is_checked() {
    let c = parse(Path::new("t.toml"), GOOD).expect("valid");
    assert_eq!(c.daemon.ack_within.as_secs(), 24 * 3600);
    let with = |v: &str| {
        GOOD.replace(
            "timeout = \"10s\"",
            &format!("timeout = \"10s\"\nack_within = \"{v}\""),
        )
    };
    let c = parse(Path::new("t.toml"), &with("2h")).expect("valid");
    assert_eq!(c.daemon.ack_within.as_secs(), 7200);
    let e = one(&with("10s"));
    assert!(
        e.message.contains("ack_within must be between 1m and 30d"),
        "{e}"
    );
    assert_eq!((e.line, e.column), (5, 14), "{e}");
}

#[test]
fn registry_settings_are_checked_with_their_location() {
    let with = |table: &str| {
        GOOD.replace(
            "  [[tld.node]]\n  name = \"b\"",
            &format!("  [tld.registry]\n{table}  [[tld.node]]\n  name = \"b\""),
        )
    };
    // RDAP is served over HTTPS only.
    let e = one(&with(
        "  rdap = \"http://rdap.example/\"\n  lookup_domain = \"example.cn\"\n",
    ));
    assert_eq!((e.line, e.column), (13, 10), "{e}");
    assert!(e.message.contains("https://"), "{e}");
    // RDAP and WHOIS need a domain to look up.
    let e = one(&with("  rdap = \"https://rdap.example/\"\n"));
    assert_eq!((e.line, e.column), (13, 10), "{e}");
    assert!(e.message.contains("lookup_domain"), "{e}");
    // A client certificate needs its key.
    let e = one(&with(
        "  epp = \"epp.example:700\"\n  client_cert = \"Cargo.toml\"\n",
    ));
    assert!(e.message.contains("client_key"), "{e}");
    assert_eq!(e.line, 14, "{e}");
    // EPP credentials come as a pair of environment variable names.
    let e = one(&with(
        "  epp = \"epp.example:700\"\n  epp_client_id_env = \"CLID\"\n",
    ));
    assert!(e.message.contains("epp_password_env"), "{e}");
    assert_eq!(e.line, 14, "{e}");
    // A CA file that is not there.
    let e = one(&with(
        "  epp = \"epp.example\"\n  ca_file = \"no-such-ca.pem\"\n",
    ));
    assert!(e.message.contains("no-such-ca.pem"), "{e}");
    // A full table is accepted, with the default EPP port.
    let c = parse(
        Path::new("t.toml"),
        &with("  epp = \"epp.example\"\n  rdap = \"https://rdap.example/\"\n  whois = \"whois.example\"\n  lookup_domain = \"example.cn\"\n  epp_client_id_env = \"CLID\"\n  epp_password_env = \"PW\"\n  whois_marker = \"Domain Name:\"\n  tls_server_name = \"epp.example\"\n"),
    )
    .expect("valid");
    let r = c.objects[0].registry.as_ref().expect("registry");
    assert_eq!(r.epp.as_deref(), Some("epp.example:700"));
    assert_eq!(r.whois.as_deref(), Some("whois.example:43"));
    assert_eq!(r.epp_login_env, Some(("CLID".into(), "PW".into())));
    assert_eq!(r.whois_marker.as_deref(), Some("Domain Name:"));
}

const ALERT: &str = r#"
[alert]
give_up_after = "12h"

[[alert.webhook]]
name = "noc"
url = "https://hooks.example/noc"
secret_env = "DNSGRADE_TEST_NOC_SECRET"
min_grade = "II"
classes = ["tld"]
authority = "广东省通信管理局"
timeout = "5s"

[[alert.alertmanager]]
name = "am"
url = "http://127.0.0.1:9093"
"#;

#[test]
fn alert_sinks_are_validated_with_defaults_and_secret_from_the_environment() {
    // A variable only this test uses.
    std::env::set_var("DNSGRADE_TEST_NOC_SECRET", "from-env-1234");
    let c = parse(Path::new("t.toml"), &format!("{GOOD}{ALERT}")).expect("valid");
    let a = &c.alert;
    assert_eq!(a.give_up_after, std::time::Duration::from_secs(12 * 3600));
    assert_eq!(a.resend_interval, DEFAULT_RESEND_INTERVAL);
    assert_eq!(a.sinks.len(), 2);
    let noc = &a.sinks[0];
    assert_eq!(noc.kind, SinkKind::Webhook);
    assert_eq!(noc.secret, Some(Secret::new("from-env-1234")));
    assert_eq!(noc.filter.min_grade, Some(crate::grading::Level::II));
    assert_eq!(noc.filter.classes, [ObjectClass::Tld]);
    assert_eq!(noc.filter.authority.as_deref(), Some("广东通信管理局"));
    assert_eq!(noc.timeout.as_secs(), 5);
    assert_eq!(a.sinks[1].kind, SinkKind::Alertmanager);
    assert_eq!(a.sinks[1].timeout, DEFAULT_SINK_TIMEOUT);
    assert!(
        !format!("{c:?}").contains("from-env-1234"),
        "Debug redacts the secret"
    );
    // Without [alert]: defaults, no sinks.
    let c = parse(Path::new("t.toml"), GOOD).expect("valid");
    assert_eq!(c.alert, AlertConfig::default());
}

#[test]
fn alert_errors_point_at_the_value() {
    let base = format!("{GOOD}{ALERT}").replace(
        "secret_env = \"DNSGRADE_TEST_NOC_SECRET\"",
        "secret = \"k\"",
    );
    let line_of = |text: &str, needle: &str| {
        text.lines()
            .position(|l| l.contains(needle))
            .map(|i| i + 1)
            .unwrap_or(0)
    };
    for (from, to, says) in [
        (
            "min_grade = \"II\"",
            "min_grade = \"V\"",
            "min_grade must be",
        ),
        (
            "classes = [\"tld\"]",
            "classes = [\"control\"]",
            "class must be one of",
        ),
        (
            "url = \"https://hooks.example/noc\"",
            "url = \"ftp://x/y\"",
            "not an http",
        ),
        (
            "timeout = \"5s\"",
            "timeout = \"10m\"",
            "timeout must be between",
        ),
        (
            "give_up_after = \"12h\"",
            "give_up_after = \"90d\"",
            "give_up_after must be",
        ),
        ("name = \"am\"", "name = \"noc\"", "duplicate sink name"),
        ("name = \"am\"", "name = \"a m\"", "sink name"),
        (
            "secret = \"k\"",
            "secret = \"k\"\nsecret_env = \"X\"",
            "either secret or secret_env",
        ),
        (
            "secret = \"k\"",
            "secret_env = \"DNSGRADE_TEST_UNSET_VARIABLE\"",
            "is not set",
        ),
        (
            "timeout = \"5s\"",
            "timout = \"5s\"",
            "unknown field `timout`",
        ),
    ] {
        let text = base.replace(from, to);
        assert_ne!(text, base, "{from}");
        let e = one(&text);
        assert!(e.message.contains(says), "{to}: {e}");
        let last = to.lines().last().unwrap_or(to);
        assert!(e.line >= line_of(&text, "[alert]"), "{to}: {e}");
        if !to.starts_with("name") && !to.contains("secret = \"k\"\n") {
            assert_eq!(e.line, line_of(&text, last), "{to}: {e}");
        }
    }
}

/// GOOD with a roster: MIIT, Guangdong by its official name, Guangxi by its short name (as a
/// string date), and a unit of the operator.
fn with_contacts() -> String {
    format!(
        "{GOOD}{}",
        r#"
[[contact]]
authority = "MIIT"
name = "Duty desk (placeholder)"
role = "emergency office duty"
phone = "010-0000-0000"
reviewed_at = 2026-11-01
hours = "24x7"

[[contact]]
authority = "广东省通信管理局"
name = "Placeholder Zhang"
role = "network security division"
email = "duty@example.invalid"
reviewed_at = 2026-09-01

[[contact]]
authority = "广西"
name = "Placeholder Li"
role = "duty officer"
phone = "+86 771 0000 0000"
email = "gx@example.invalid"
reviewed_at = "2026-10-15"
hours = "weekdays 08:30-17:30"

[[contact]]
unit = "DNS operations"
name = "NOC on call"
role = "on-call engineer"
phone = "000-0000-0000"
reviewed_at = 2026-11-20
hours = "24x7"
"#
    )
}

#[test]
fn contacts_are_read_with_their_authority_normalised_and_a_90_day_review_by_default() {
    let c = parse(Path::new("t.toml"), &with_contacts()).expect("valid");
    let owners: Vec<&ContactFor> = c.contacts.iter().map(|c| &c.owner).collect();
    assert_eq!(
        owners,
        [
            &ContactFor::Authority("互联网应急办".into()),
            &ContactFor::Authority("广东通信管理局".into()),
            &ContactFor::Authority("广西通信管理局".into()),
            &ContactFor::Unit("DNS operations".into()),
        ]
    );
    let gx = &c.contacts[2];
    assert_eq!(gx.reviewed_at, jiff::civil::date(2026, 10, 15));
    assert_eq!(gx.phone.as_deref(), Some("+86 771 0000 0000"));
    assert_eq!(gx.email.as_deref(), Some("gx@example.invalid"));
    assert!(!gx.always_reachable());
    assert!(c.contacts[0].always_reachable());
    assert_eq!(c.contacts[1].phone, None);
    assert_eq!(
        c.daemon.contact_review_every,
        std::time::Duration::from_secs(90 * 86_400)
    );
    let c = parse(Path::new("t.toml"), GOOD).expect("valid");
    assert!(c.contacts.is_empty());
}

#[test]
fn contacts_for_takes_the_lead_as_grading_names_it_or_as_the_config_writes_it() {
    let c = parse(Path::new("t.toml"), &with_contacts()).expect("valid");
    let names =
        |a: &str| -> Vec<String> { c.contacts_for(a).iter().map(|c| c.name.clone()).collect() };
    for gd in ["广东省通信管理局", "广东通信管理局", "广东"] {
        assert_eq!(names(gd), ["Placeholder Zhang"], "{gd}");
    }
    assert_eq!(names("广西壮族自治区通信管理局"), ["Placeholder Li"]);
    for eo in ["互联网应急办", "MIIT"] {
        assert_eq!(names(eo), ["Duty desk (placeholder)"], "{eo}");
    }
    // The level-IV lead is the unit itself: every unit's contacts; a unit by its name.
    assert_eq!(names("涉事单位自行处置"), ["NOC on call"]);
    assert_eq!(names("the unit itself"), ["NOC on call"]);
    assert_eq!(names("DNS operations"), ["NOC on call"]);
    assert!(names("上海市通信管理局").is_empty());
}

#[test]
fn a_contact_is_overdue_once_its_review_period_has_passed_in_china_standard_time() {
    let mut c = parse(Path::new("t.toml"), &with_contacts()).expect("valid");
    let gd = c.contacts[1].clone();
    let every = c.daemon.contact_review_every;
    // Reviewed 2026-09-01 (00:00 UTC+8 = 2026-08-31T16:00Z); due 90 days later.
    let due = crate::clock::parse_rfc3339("2026-11-30T00:00:00+08:00").unwrap();
    assert_eq!(gd.review_due(every), due);
    assert!(!gd.overdue(due, every));
    assert!(gd.overdue(due + 1, every));
    let overdue: Vec<&str> = c
        .overdue_contacts(due + 1)
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(overdue, ["Placeholder Zhang"]);
    c.daemon.contact_review_every = std::time::Duration::from_secs(30 * 86_400);
    // 30 days: 2026-10-15 is past too; 2026-11-01 falls due on 2026-12-01, 2026-11-20 later.
    let overdue: Vec<&str> = c
        .overdue_contacts(due + 1)
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(overdue, ["Placeholder Zhang", "Placeholder Li"]);
}

#[test]
fn contact_errors_point_at_the_value() {
    let base = with_contacts();
    let line_of =
        |text: &str, needle: &str| text.lines().position(|l| l.contains(needle)).unwrap() + 1;
    let cases: [(&str, &str, &str); 8] = [
        (
            "role = \"duty officer\"",
            "rol = \"duty officer\"",
            "unknown field `rol`",
        ),
        (
            "reviewed_at = \"2026-10-15\"",
            "reviewed_at = \"2026-13-15\"",
            "not a date like 2026-11-01",
        ),
        (
            "reviewed_at = 2026-09-01",
            "reviewed_at = 2026-09-01T08:00:00Z",
            "not a date like 2026-11-01",
        ),
        (
            "authority = \"广西\"",
            "authority = \"广州通信管理局\"",
            "is not a known authority",
        ),
        (
            "phone = \"+86 771 0000 0000\"",
            "phone = \"call me\"",
            "is not a telephone number",
        ),
        (
            "email = \"gx@example.invalid\"",
            "email = \"gx.example.invalid\"",
            "is not an address",
        ),
        (
            "unit = \"DNS operations\"",
            "unit = \"广东\"",
            "names an authority",
        ),
        (
            "name = \"NOC on call\"",
            "name = \"  \"",
            "contact name is empty",
        ),
    ];
    for (from, to, want) in cases {
        let text = base.replace(from, to);
        let e = one(&text);
        assert!(e.message.contains(want), "{to}: {e}");
        assert_eq!(
            e.line,
            line_of(&text, to.trim_end_matches('"')),
            "{to}: {e}"
        );
    }
    // Neither phone nor email: at the contact.
    let text = base.replace("email = \"duty@example.invalid\"\n", "");
    let e = one(&text);
    assert!(e.message.contains("needs a phone or an email"), "{e}");
    // Both an authority and a unit, or neither.
    let text = base.replace(
        "unit = \"DNS operations\"",
        "authority = \"MIIT\"\nunit = \"DNS operations\"",
    );
    assert!(one(&text).message.contains("not both"));
    let text = base.replace("unit = \"DNS operations\"\n", "");
    assert!(one(&text).message.contains("needs authority = \"MIIT\""));
    // A review period under a day.
    let text = base.replace(
        "timeout = \"10s\"",
        "timeout = \"10s\"\ncontact_review_every = \"12h\"",
    );
    let e = one(&text);
    assert!(
        e.message
            .contains("contact_review_every must be at least 1d"),
        "{e}"
    );
    assert_eq!(e.line, line_of(&text, "contact_review_every"));
}

/// The line of the first line of `text` that contains `needle`, 1-based.
fn line_with(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).expect(needle) + 1
}

#[test]
fn an_api_token_from_an_unset_or_empty_variable_is_an_error_naming_it() {
    // Variables only this test uses; the first is never set.
    std::env::set_var("DNSGRADE_TEST_TOKEN_EMPTY", "");
    std::env::set_var("DNSGRADE_TEST_TOKEN_SET", "s3cret-token");
    let daemon =
        |token: &str| format!("[daemon]\nlisten = \"127.0.0.1:9553\"\napi_token = {token}\n");
    let e = one(&daemon("\"env:DNSGRADE_TEST_TOKEN_UNSET\""));
    assert_eq!((e.line, e.column), (3, 13), "{e}");
    assert!(e.message.contains("DNSGRADE_TEST_TOKEN_UNSET"), "{e}");
    assert!(e.message.contains("not set or empty"), "{e}");
    let e = one(&daemon("\"env:DNSGRADE_TEST_TOKEN_EMPTY\""));
    assert!(e.message.contains("DNSGRADE_TEST_TOKEN_EMPTY"), "{e}");
    let e = one(&daemon("\"env:\""));
    assert!(e.message.contains("names no variable"), "{e}");
    let e = one(&daemon("\"\""));
    assert!(e.message.contains("api_token is not set or empty"), "{e}");
    let e = one(&daemon("\"t0ken\\n\""));
    assert!(e.message.contains("control characters"), "{e}");
    assert!(
        !e.message.contains("t0ken"),
        "the token is never printed: {e}"
    );

    let c = parse(
        Path::new("t.toml"),
        &daemon("\"env:DNSGRADE_TEST_TOKEN_SET\""),
    )
    .expect("valid");
    assert_eq!(c.daemon.api_token.as_deref(), Some("s3cret-token"));
    let c = parse(Path::new("t.toml"), &daemon("\"written\"")).expect("valid");
    assert_eq!(c.daemon.api_token.as_deref(), Some("written"));
    let c = parse(Path::new("t.toml"), "[daemon]\n").expect("valid");
    assert_eq!(
        c.daemon.api_token, None,
        "no api_token: the write API is off"
    );
}

#[test]
fn a_duration_written_as_seconds_obeys_the_same_year_cap_as_one_written_with_a_unit() {
    let daemon_keys = [
        "interval",
        "timeout",
        "window",
        "tick",
        "stop_window",
        "resolve_interval",
        "ledger_retention",
        "ack_within",
        "contact_review_every",
    ];
    for key in daemon_keys {
        for v in ["99999999999", "31622401", "-5", "1e12"] {
            let e = one(&format!("[daemon]\n{key} = {v}\n"));
            assert_eq!((e.line, e.column), (2, key.len() + 4), "{key} = {v}: {e}");
            assert!(
                e.message.contains("year") || e.message.contains("negative"),
                "{key} = {v}: {e}"
            );
        }
        // As a string, the same bound.
        let e = one(&format!("[daemon]\n{key} = \"367d\"\n"));
        assert!(e.message.contains("longer than a year"), "{key}: {e}");
    }
    for (table, key) in [
        ("[alert]", "give_up_after"),
        ("[alert]", "resend_interval"),
        ("[alert]", "resend_resolved_for"),
        (
            "[[alert.webhook]]\nname = \"n\"\nurl = \"http://127.0.0.1:1\"",
            "timeout",
        ),
    ] {
        let e = one(&format!("{table}\n{key} = 99999999999\n"));
        assert!(e.message.contains("longer than a year"), "{key}: {e}");
        assert_eq!(e.line, table.lines().count() + 1, "{key}: {e}");
    }
    // The rules file reads durations the same way.
    let rules =
        crate::grading::MIIT_2011.replace("clear_after = \"300s\"", "clear_after = 99999999999");
    let e = crate::grading::Rules::parse(Path::new("rules.toml"), &rules)
        .expect_err("rejected")
        .errors;
    assert!(e[0].message.contains("longer than a year"), "{}", e[0]);
    assert_eq!(
        e[0].line,
        line_with(&rules, "clear_after = 99999999999"),
        "{}",
        e[0]
    );
    // A year's worth of seconds is read; what each key allows is then checked as usual.
    let c = parse(
        Path::new("t.toml"),
        "[daemon]\nresolve_interval = 120\nledger_retention = 31622400\n",
    )
    .expect("valid");
    assert_eq!(c.daemon.resolve_interval.as_secs(), 120);
    assert_eq!(c.daemon.ledger_retention.as_secs(), 366 * 86400);
}

#[test]
fn names_and_texts_are_bounded_and_free_of_control_characters() {
    let huge = "x".repeat(10 << 20);
    let long = "n".repeat(MAX_NAME_CHARS + 1);
    let fits = "n".repeat(MAX_NAME_CHARS);
    for (from, to, says) in [
        (
            "name = \"Registrar A\"",
            format!("name = \"{huge}\""),
            "longer than 255",
        ),
        (
            "name = \"Registrar A\"",
            format!("name = \"{long}\""),
            "longer than 255",
        ),
        (
            "name = \"Example Web\"",
            "name = \"Web\\u0007\"".into(),
            "control character",
        ),
        (
            "name = \"ns1\"\n  addresses = [\"127.0.0.2\"]",
            format!("name = \"{long}\"\n  addresses = [\"127.0.0.2\"]"),
            "server name is longer",
        ),
        (
            "name = \"r1\"",
            "name = \"r\\n1\"".into(),
            "control character",
        ),
        (
            "operator = \"Operator A\"",
            format!("operator = \"{long}\""),
            "operator is longer",
        ),
        (
            "name = \"root\"",
            format!("name = \"{huge}\""),
            "control name is longer",
        ),
        // DNS names: 253 octets, 63 per label.
        (
            "name = \"www.example.cn\"",
            format!("name = \"{huge}.cn\""),
            "longer than 253",
        ),
        (
            "name = \"www.example.cn\"",
            format!("name = \"{}.cn\"", "a".repeat(64)),
            "not a valid domain name",
        ),
        (
            "name = \"www.example.cn\"",
            format!("name = \"{}cn\"", "abcdefghi.".repeat(26)),
            "longer than 253",
        ),
        (
            "domain = \"example.com.cn\"",
            format!("domain = \"{}cn\"", "中.".repeat(84)),
            "exceed 255",
        ),
        (
            "host = \"b.example\"",
            format!("host = \"{huge}\""),
            "not a valid host name",
        ),
        (
            "host = \"b.example\"",
            format!("host = \"{}.example\"", "b".repeat(64)),
            "not a valid host name",
        ),
        (
            "canary_zone = \"canary.example.cn\"",
            format!("canary_zone = \"{}.cn\"", "c.".repeat(126)),
            "longer than 253",
        ),
    ] {
        assert!(GOOD.contains(from), "{from}");
        let text = GOOD.replacen(from, &to, 1);
        let e = one(&text);
        let shown: String = to.chars().take(40).collect();
        assert!(e.message.contains(says), "{shown}: {}", e.message);
        // The error is at the value's opening quote.
        let line = line_with(&text, &shown);
        let written = text.lines().nth(line - 1).expect("line");
        let column = written[..written.find(" = \"").expect("value") + 3]
            .chars()
            .count()
            + 1;
        assert_eq!((e.line, e.column), (line, column), "{shown}: {}", e.message);
        assert!(
            e.message.len() < 400,
            "{shown}: the message does not repeat the value"
        );
    }
    // At the limit: accepted.
    let c = parse(Path::new("t.toml"), &GOOD.replace("Registrar A", &fits)).expect("valid");
    assert_eq!(
        c.objects_of(ObjectClass::Institution).next().unwrap().name,
        fits
    );
    let label = "a".repeat(63);
    let name = format!("{label}.{label}.{label}.{}.cn", "a".repeat(58));
    assert_eq!(name.len(), 253);
    parse(
        Path::new("t.toml"),
        &GOOD.replace("www.example.cn\"\n  type", &format!("{name}\"\n  type")),
    )
    .expect("a 253-octet name is valid");
}

#[test]
fn contact_and_maintenance_texts_are_bounded() {
    let long = "p".repeat(MAX_NAME_CHARS + 1);
    let text = with_contacts().replace("name = \"NOC on call\"", &format!("name = \"{long}\""));
    let e = one(&text);
    assert!(e.message.contains("contact name is longer than 255"), "{e}");
    assert_eq!((e.line, e.column), (line_with(&text, &long), 8), "{e}");
    let e = one(&with_contacts().replacen("hours = \"24x7\"", "hours = \"24\\u0000x7\"", 1));
    assert!(
        e.message.contains("hours contains a control character"),
        "{e}"
    );
    let window = |reason: &str| {
        format!("{GOOD}\n[[maintenance]]\nobject = \"tld/xn--fiqs8s\"\nstarts = \"2026-11-22T16:00:00Z\"\nends = \"2026-11-22T18:00:00Z\"\nreason = \"{reason}\"\n")
    };
    let e = one(&window(&"r".repeat(MAX_TEXT_CHARS + 1)));
    assert!(e.message.contains("reason is longer than 1024"), "{e}");
    assert_eq!(e.column, 10, "{e}");
    let e = one(&window("line\\nbreak"));
    assert!(e.message.contains("control character"), "{e}");
    let c = parse(Path::new("t.toml"), &window(&"r".repeat(MAX_TEXT_CHARS))).expect("valid");
    assert_eq!(c.maintenance[0].reason.len(), MAX_TEXT_CHARS);
}

#[test]
fn a_file_that_is_not_utf8_is_an_error_at_its_first_bad_byte() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("probes.toml");
    let mut bytes = b"[daemon]\nlisten = \"127.0.0.1:9553\"\n# caf\xc3\xa9 ok, then ".to_vec();
    bytes.extend_from_slice(b"\xe9 latin-1\n");
    std::fs::write(&path, &bytes).expect("write");
    let e = match load(&path) {
        Err(LoadError::Invalid(e)) => e.errors,
        other => panic!("expected an invalid file, got {other:?}"),
    };
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].file, path);
    // Line 3, after "# café ok, then " (16 characters).
    assert_eq!((e[0].line, e[0].column), (3, 17), "{}", e[0]);
    assert!(
        e[0].message.contains("not UTF-8") && e[0].message.contains("0xe9"),
        "{}",
        e[0]
    );
    // The rules file is read the same way.
    let rules = dir.path().join("rules.toml");
    std::fs::write(&rules, b"\xff\n").expect("write");
    let e = match crate::grading::Rules::load(&rules) {
        Err(LoadError::Invalid(e)) => e.errors,
        Ok(_) => panic!("accepted"),
        Err(other) => panic!("{other}"),
    };
    assert_eq!((e[0].line, e[0].column), (1, 1), "{}", e[0]);
    assert!(e[0].message.contains("not UTF-8"), "{}", e[0]);
}

#[test]
fn axfr_transfer_limits_default_and_are_checked() {
    let axfr = |extra: &str| {
        GOOD.replace(
            "key_domains = [\"政务.中国\"]\n",
            &format!("key_domains = [\"政务.中国\"]\n  [tld.reference]\n  axfr = \"127.0.0.1:53\"\n{extra}"),
        )
    };
    let limits = |text: &str| match &parse(Path::new("t.toml"), text).expect("valid").objects[0]
        .reference
        .as_ref()
        .expect("reference")
        .source
    {
        ReferenceSource::Axfr { limits, .. } => *limits,
        other => panic!("{other:?}"),
    };
    assert_eq!(limits(&axfr("")), TransferLimits::DEFAULT);
    assert_eq!(TransferLimits::DEFAULT.max_bytes, 4 << 30);
    let l = limits(&axfr(
        "  max_transfer_mib = 512\n  max_transfer_records = 1000\n  transfer_timeout = \"2m\"\n",
    ));
    assert_eq!(l.max_bytes, 512 << 20);
    assert_eq!(l.max_records, 1000);
    assert_eq!(l.timeout.as_secs(), 120);
    for (extra, what) in [
        (
            "  max_transfer_mib = 0\n",
            "max_transfer_mib must be between",
        ),
        (
            "  max_transfer_records = 0\n",
            "max_transfer_records must be at least 1",
        ),
        (
            "  transfer_timeout = \"0s\"\n",
            "transfer_timeout must be between",
        ),
        (
            "  transfer_timeout = \"2d\"\n",
            "transfer_timeout must be between",
        ),
    ] {
        let e = one(&axfr(extra));
        assert!(e.message.contains(what), "{extra}: {e}");
    }
    let dir = tempfile::tempdir().expect("tmp");
    let zone = dir.path().join("cn.zone");
    std::fs::write(&zone, "").expect("write");
    let text = axfr("").replace(
        "axfr = \"127.0.0.1:53\"",
        &format!("zone_file = \"{}\"\n  max_transfer_mib = 1", zone.display()),
    );
    let e = one(&text);
    assert!(
        e.message.contains("max_transfer_mib applies to axfr only"),
        "{e}"
    );
}

#[test]
fn the_vantage_point_is_named_and_its_source_address_checked() {
    // Without [daemon] vantage, the host name (label-safe) names it.
    let c = parse(Path::new("t.toml"), GOOD).expect("valid");
    let v = &c.daemon.vantage;
    assert!(!v.name.is_empty() && v.name.len() <= 63, "{v:?}");
    assert!(v
        .name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)));
    assert_eq!((v.region.as_deref(), v.network.as_deref()), (None, None));
    assert_eq!(c.daemon.source_address, None);
    let with = |extra: &str| GOOD.replacen("[daemon]\n", &format!("[daemon]\n{extra}"), 1);
    let c = parse(
        Path::new("t.toml"),
        &with("vantage = \"bj-telecom-1\"\nregion = \"beijing\"\nnetwork = \"telecom\"\nsource_address = \"127.0.0.3\"\n"),
    )
    .expect("valid");
    assert_eq!(c.daemon.vantage.name, "bj-telecom-1");
    assert_eq!(c.daemon.vantage.region.as_deref(), Some("beijing"));
    assert_eq!(c.daemon.vantage.network.as_deref(), Some("telecom"));
    assert_eq!(
        c.daemon.source_address,
        Some("127.0.0.3".parse().expect("ip"))
    );
    for (extra, key) in [
        ("vantage = \"bj telecom\"\n", "vantage must be"),
        ("vantage = \"\"\n", "vantage must be"),
        ("region = \"北京\"\n", "region must be"),
        ("network = \"a\\\"b\"\n", "network must be"),
        (
            "source_address = \"0.0.0.0\"\n",
            "source_address \"0.0.0.0\"",
        ),
        (
            "source_address = \"host.example\"\n",
            "source_address \"host.example\"",
        ),
    ] {
        let e = one(&with(extra));
        assert_eq!(e.line, 3, "{extra}: {e}");
        assert!(e.message.contains(key), "{extra}: {e}");
    }
}
