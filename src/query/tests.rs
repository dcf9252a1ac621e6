use super::*;
use crate::schema::Schema;

fn schema() -> Schema {
    Schema::new("default", ".*", &["10s:7d", "1m:90d", "1h:5y"]).unwrap()
}

const NOW: i64 = 1_700_000_000;

fn range(age: i64, mdp: Option<u64>) -> Range {
    Range {
        from: NOW - age,
        until: NOW,
        now: NOW,
        max_data_points: mdp,
    }
}

#[test]
fn finest_tier_that_covers_from() {
    let o = Options::default();
    assert_eq!(plan(&schema(), &o, &range(3600, None)), (0, 1));
    assert_eq!(plan(&schema(), &o, &range(8 * 86_400, None)), (1, 1));
    assert_eq!(plan(&schema(), &o, &range(100 * 86_400, None)), (2, 1));
    assert_eq!(plan(&schema(), &o, &range(10 * 365 * 86_400, None)).0, 2);
}

#[test]
fn point_cap_moves_to_a_coarser_tier() {
    let o = Options {
        max_points_per_series: 1000,
        ..Options::default()
    };
    // 1 day at 10s = 8640 points > 1000 → 1m gives 1440 > 1000 → 1h gives 24.
    assert_eq!(plan(&schema(), &o, &range(86_400, None)), (2, 1));
}

#[test]
fn max_data_points_follows_the_ratio_rule() {
    let o = Options::default();
    // Metrictank's example: 1 h window, MDP 100: 10s gives 360 points, 1m gives 60.
    // 360/100 = 3.6 < 100/60 = 1.67? No → read 1m (60 points), no consolidation.
    assert_eq!(plan(&schema(), &o, &range(3600, Some(100))), (1, 1));
    // 30 days, MDP 1000: 1m = 43200 points, 1h = 720 ≤ 1000 → 1h.
    assert_eq!(plan(&schema(), &o, &range(30 * 86_400, Some(1000))), (2, 1));
    // 1 day, MDP 1000: 1m gives 1440 (1.44× over), 1h gives 24 (41× under) → 1m, 2 per point.
    assert_eq!(plan(&schema(), &o, &range(86_400, Some(1000))), (1, 2));
}
