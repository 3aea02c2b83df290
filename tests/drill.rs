//! Drills through the real binary: every scenario opens a drill incident with the object's
//! real authority routing, kept apart from real incidents, and ends by hand.

mod support;

use support::{get_json, DaemonProc};

const TOKEN: &str = "drill-token";

fn drill(api: &str, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_dnsgrade"))
        .arg("drill")
        .args(args)
        .args(["--api", api, "--token", TOKEN])
        .output()
        .expect("run dnsgrade drill")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_opens_a_drill_incident_apart_from_real_ones() {
    let lab = support::lab().await;
    let a = lab.local_addr();
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = dir.path().join("probes.toml");
    std::fs::write(
        &cfg,
        format!(
            "[daemon]\nlisten = \"127.0.0.1:0\"\nstate_dir = \"{state}\"\ninterval = \"1s\"\ntick = \"1s\"\napi_token = \"env:DNSGRADE_API_TOKEN\"\n\n\
             [[tld]]\nname = \"cn\"\n  [[tld.node]]\n  name = \"a\"\n  addresses = [\"{a}\"]\n\n\
             [[institution]]\nname = \"Registrar A\"\ntier = 1\n  [[institution.server]]\n  name = \"ns1\"\n  addresses = [\"{a}\"]\n  [[institution.check]]\n  name = \"example.cn\"\n  type = \"SOA\"\n\n\
             [[website]]\nname = \"Portal\"\ntier = 1\nlicensed_by = \"广东\"\ndomain = \"example.cn\"\n  [[website.server]]\n  name = \"ns1\"\n  addresses = [\"{a}\"]\n\n\
             [[recursive]]\noperator = \"Lab\"\nname = \"gd\"\nscope = \"province\"\nprovince = \"广东\"\ncached_names = [\"www.example.cn\"]\n  [[recursive.server]]\n  name = \"r1\"\n  addresses = [\"{a}\"]\n",
            state = dir.path().join("state").display()
        ),
    )
    .expect("write");
    let d = DaemonProc::start(&cfg, None, Some(TOKEN));
    let api = format!("http://{}", d.http);

    let out = drill(&api, &["--list"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let scenarios: Vec<&str> = dnsgrade::drill::SCENARIOS.iter().map(|s| s.name).collect();
    for s in &scenarios {
        assert!(text.contains(s), "{s} listed: {text}");
    }

    for s in dnsgrade::drill::SCENARIOS {
        let out = drill(&api, &["--scenario", s.name, "--by", "drill lead"]);
        assert!(
            out.status.success(),
            "{}: {}",
            s.name,
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("drill incident"), "{}: {text}", s.name);
        // The drill incident carries the grade and the object's real routing.
        let all = get_json(d.http, "/api/v1/incidents?state=open&include_drill=true").await;
        let key = format!("{}/", s.class.as_str());
        let inc = all["incidents"]
            .as_array()
            .and_then(|v| {
                v.iter()
                    .find(|i| {
                        i["drill"] == true
                            && i["object"].as_str().is_some_and(|o| o.starts_with(&key))
                    })
                    .cloned()
            })
            .unwrap_or_else(|| panic!("{}: no drill incident in {all:#}", s.name));
        assert_eq!(inc["grade"]["level"], s.grade.roman(), "{}", s.name);
        if s.name == "recursive-III" || s.name == "website-III" {
            assert_eq!(
                inc["authority"]["lead_zh"], "广东省通信管理局",
                "{}",
                s.name
            );
        }
        // End it, so the next scenario of the class opens a fresh one.
        let id = inc["id"].as_i64().expect("id").to_string();
        let out = drill(&api, &["--end", &id, "--by", "drill lead"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Drills never show in the working list, nor count as open incidents.
    assert_eq!(
        get_json(d.http, "/api/v1/incidents?state=all").await["incidents"]
            .as_array()
            .map(|a| a.len()),
        Some(0)
    );
    let all = get_json(d.http, "/api/v1/incidents?state=all&include_drill=true").await;
    assert_eq!(
        all["incidents"].as_array().map(|a| a.len()),
        Some(scenarios.len())
    );
    assert!(all["incidents"]
        .as_array()
        .is_some_and(|a| a.iter().all(|i| i["state"] == "resolved")));

    // Unknown scenario or object: a clear refusal.
    let out = drill(&api, &["--scenario", "tld-V"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown drill scenario"));
    let out = drill(&api, &["--scenario", "tld-II", "--object", "tld/nope"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a configured tld object"));
    drop(d);
    lab.stop().await;
}
