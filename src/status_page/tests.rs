use super::*;
use crate::config::ObjectClass;
use crate::evaluator::ObjectStatus;
use crate::grading::{Assessment, Authority, Escalation, Level};
use crate::incident::{GradeView, IncidentState, Timestamp};

const NOW: u64 = 1_800_000_000_000;

fn object(name: &str, display: &str, grade: Option<Level>) -> ObjectStatus {
    ObjectStatus {
        class: ObjectClass::Tld,
        name: name.into(),
        display_name: display.into(),
        tier: None,
        scope: None,
        licensed_by: None,
        assessment: Assessment {
            object: crate::config::ObjectKey::new(ObjectClass::Tld, name),
            grade,
            candidate: None,
            rule: grade.map(|_| "tld.bad_nodes_half".into()),
            reasons_zh: vec!["一半节点异常 <b>".into()],
            reasons_en: vec!["half the nodes are bad <b>".into()],
            evidence: vec![],
            authority: grade.map(|_| Authority {
                lead_zh: "互联网应急办".into(),
                lead_en: "MIIT emergency office".into(),
                notify: vec!["CNCERT".into()],
            }),
            onset: grade.map(|_| NOW - 60_000),
            next_escalation: None,
        },
        registry: None,
    }
}

fn incident(name: &str, grade: Level) -> Incident {
    Incident {
        id: 3,
        object: crate::config::ObjectKey::new(ObjectClass::Tld, name),
        state: IncidentState::Open,
        grade: GradeView(grade),
        max_grade: GradeView(grade),
        candidate: None,
        rule: None,
        reasons_zh: vec![],
        reasons_en: vec![],
        evidence: serde_json::Value::Null,
        authority: None,
        next_escalation: None,
        onset: Timestamp(NOW - 60_000),
        detected_at: Timestamp(NOW - 60_000),
        clearing_since: None,
        acknowledged_at: None,
        acknowledged_by: None,
        impact_confirmed_at: None,
        impact_confirmed_by: None,
        resolved_at: None,
        cause: None,
        false_positive: None,
        false_positive_at: None,
        maintenance: false,
        drill: false,
        updated_at: Timestamp(NOW),
        result: None,
        organisations: Vec::new(),
        reported_at: None,
        reported_to: None,
        coordinator_confirmed_at: None,
    }
}

/// A configuration with one TLD and, if `contacts`, a 24x7 contact of MIIT (互联网应急办, the
/// lead the test objects name) and one of Guangdong's administration.
fn config(contacts: bool) -> crate::config::Config {
    let mut text = String::from(
        "[daemon]\nstate_dir = \"/tmp/x\"\n[[tld]]\nname = \"cn\"\n  [[tld.node]]\n  name = \"a\"\n  addresses = [\"127.0.0.1:5300\"]\n",
    );
    if contacts {
        text += "[[contact]]\nauthority = \"MIIT\"\nname = \"Duty <desk>\"\nrole = \"emergency office\"\nphone = \"010-0000-0000\"\nreviewed_at = 2026-11-01\nhours = \"24x7\"\n\n[[contact]]\nauthority = \"广东\"\nname = \"Guangdong desk\"\nrole = \"security division\"\nphone = \"020-0000-0000\"\nreviewed_at = 2026-11-01\n";
    }
    crate::config::parse(std::path::Path::new("t.toml"), &text).expect("config")
}

fn page(board: &Board, wall: bool) -> String {
    page_with(board, wall, &config(false))
}

fn page_with(board: &Board, wall: bool, config: &crate::config::Config) -> String {
    render(&WallInput {
        board,
        trends: &Trends::default(),
        resolved: &[],
        now: NOW,
        clear_after_ms: 300_000,
        wall,
        config,
    })
}

#[test]
fn the_lead_authoritys_contacts_are_on_the_card_and_no_one_elses() {
    let board = Board {
        at: NOW,
        objects: vec![object("cn", "cn", Some(Level::II))],
        ..Board::default()
    };
    let html = page_with(&board, false, &config(true));
    assert!(html.contains("联系 call"), "{html}");
    assert!(html.contains("Duty &lt;desk&gt;"), "escaped: {html}");
    assert!(html.contains("tel:010-0000-0000"), "{html}");
    assert!(html.contains("24x7"));
    assert!(!html.contains("Guangdong desk"), "not the lead's contact");
    let without = page(&board, false);
    assert!(
        !without.contains("联系 call"),
        "nothing when the roster has no one"
    );
}

#[test]
fn every_value_is_escaped() {
    let mut o = object("cn", "<script>alert('x')</script>&\"", Some(Level::II));
    o.assessment.authority = Some(Authority {
        lead_zh: "<img src=x onerror=alert(1)>".into(),
        lead_en: "\"quoted\"".into(),
        notify: vec![],
    });
    let mut inc = incident("cn", Level::II);
    inc.acknowledged_by = Some("<i>duty</i>".into());
    let board = Board {
        at: NOW,
        objects: vec![o],
        open_incidents: vec![inc],
        ..Board::default()
    };
    let html = page(&board, false);
    assert!(!html.contains("<script>alert"), "{html}");
    assert!(html.contains("&lt;script&gt;alert('x')&lt;/script&gt;&amp;&quot;"));
    assert!(!html.contains("<img src=x"));
    assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"));
    assert!(html.contains("&quot;quoted&quot;"));
    assert!(html.contains("&lt;i&gt;duty&lt;/i&gt;"));
    assert!(html.contains("一半节点异常 &lt;b&gt;"));
    // The one script is the page's own.
    assert_eq!(html.matches("<script>").count(), 1);
}

#[test]
fn an_empty_board_is_ok_and_isolation_is_a_full_width_warning() {
    let html = page(&Board::default(), false);
    assert!(html.contains("正常 OK"));
    assert!(html.contains("data-level=\"none\""));
    assert!(html.contains("name=\"viewport\""));
    assert!(!html.contains("id=\"isolated\""));
    let html = page(
        &Board {
            isolated: true,
            control_addresses: 3,
            control_failing: 3,
            ..Board::default()
        },
        false,
    );
    assert!(html.contains("id=\"isolated\""));
    assert!(html.contains("monitor.isolated"));
    assert!(!html.contains("id=\"local-fault\""));
    let html = page(
        &Board {
            local_fault: true,
            local_fault_addresses: 40,
            probed_addresses: 100,
            ..Board::default()
        },
        false,
    );
    assert!(html.contains("id=\"local-fault\""));
    assert!(html.contains("40 / 100"));
}

#[test]
fn the_banner_is_the_worst_grade_and_the_row_agrees_with_its_incident() {
    let board = Board {
        at: NOW,
        objects: vec![
            object("a", "a", Some(Level::IV)),
            object("cn", "中国", Some(Level::II)),
        ],
        open_incidents: vec![incident("cn", Level::II)],
        ..Board::default()
    };
    let html = page(&board, false);
    assert!(html.contains("id=\"banner\" data-level=\"II\""), "{html}");
    assert!(html.contains("重大 II"));
    let card = html.split("<article").nth(1).expect("a card, worst first");
    assert!(card.contains("data-object=\"tld/cn\""), "{card}");
    assert!(card.contains("data-grade=\"II\""));
    assert!(card.contains("data-incident-grade=\"II\""));
    assert!(card.contains("data-agreement=\"same\""));
    assert!(card.contains("互联网应急办"));
    assert!(card.contains("通报 notify"));
    assert!(card.contains("未确认 not acknowledged"));
}

#[test]
fn a_clearing_incident_shows_both_grades_and_when_it_resolves() {
    let mut inc = incident("cn", Level::II);
    inc.clearing_since = Some(Timestamp(NOW - 100_000));
    inc.authority = Some(serde_json::json!({
        "lead_zh": "互联网应急办", "lead_en": "MIIT emergency office", "notify": ["CNCERT"]
    }));
    let board = Board {
        at: NOW,
        objects: vec![object("cn", "中国", None)],
        open_incidents: vec![inc],
        ..Board::default()
    };
    let html = page(&board, false);
    // No object is graded: the banner says OK, and the row says why the incident is still open.
    assert!(html.contains("id=\"banner\" data-level=\"none\""));
    assert!(html.contains("data-grade=\"none\""));
    assert!(html.contains("data-incident-grade=\"II\""));
    assert!(html.contains("data-agreement=\"clearing\""));
    assert!(html.contains("class=\"incident-grade\""));
    assert!(html.contains("消除中 clearing；当前无级别 now no grade"));
    // Resolves at clearing_since + clear_after = NOW + 200 s.
    let at = crate::clock::format_rfc3339(NOW + 200_000);
    assert!(html.contains(&format!("datetime=\"{at}\"")), "{html}");
    // Who leads is the incident's while the object has no grade of its own.
    assert!(html.contains("互联网应急办"), "{html}");
    assert!(html.contains("(事件 incident)"));
    assert!(html.contains("CNCERT"));
}

#[test]
fn the_countdown_is_rendered_from_the_servers_clock() {
    let mut o = object("cn", "中国", Some(Level::IV));
    o.assessment.next_escalation = Some(Escalation {
        grade: Level::II,
        at: NOW + 2_400_000,
    });
    let board = Board {
        at: NOW,
        objects: vec![o],
        ..Board::default()
    };
    let html = page(&board, false);
    assert!(html.contains(&format!("data-now=\"{NOW}\"")));
    assert!(
        html.contains(&format!(
            "<span class=\"countdown\" data-countdown=\"{}\">40:00</span>",
            NOW + 2_400_000
        )),
        "{html}"
    );
}

#[test]
fn wall_mode_keeps_only_what_needs_attention() {
    let board = Board {
        at: NOW,
        objects: vec![object("cn", "中国", Some(Level::I)), object("b", "b", None)],
        ..Board::default()
    };
    let html = page(&board, true);
    assert!(html.contains("<body class=\"wall\""), "{html}");
    assert_eq!(html.matches("<article").count(), 1);
    assert!(html.contains("其余 1 个对象正常"));
    assert!(!html.contains("id=\"resolved\""));
    assert_eq!(page(&board, false).matches("<article").count(), 2);
}
