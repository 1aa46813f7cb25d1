//! A key's use over the last seven days as an SVG bar chart, drawn on the server: one bar per
//! hour, admitted requests below and refusals stacked above.

use std::fmt::Write as _;

use time::{Duration, OffsetDateTime};

use crate::usage::UsageHour;

/// Hours the chart spans.
pub(crate) const HOURS: i64 = 7 * 24;
const BAR: i64 = 4;
const HEIGHT: u64 = 120;
const TOP: u64 = 12;
const LABELS: u64 = 16;
/// The width a date label takes, in the chart's units.
const LABEL_WIDTH: i64 = 30;

/// The first hour the chart shows, for a chart drawn at `now`.
pub(crate) fn start(now: OffsetDateTime) -> OffsetDateTime {
    let hour = now
        .replace_minute(0)
        .and_then(|at| at.replace_second(0))
        .and_then(|at| at.replace_nanosecond(0))
        .unwrap_or(now);
    hour - Duration::hours(HOURS - 1)
}

/// The chart, with a text summary for readers that do not see it.
pub(crate) fn usage_chart(hours: &[UsageHour], now: OffsetDateTime) -> String {
    let first = start(now);
    let mut slots = vec![UsageHour::starting(first); HOURS as usize];
    for hour in hours {
        let index = (hour.hour - first).whole_hours();
        if (0..HOURS).contains(&index) {
            slots[index as usize].add(hour);
        }
    }
    let admitted: u64 = slots.iter().map(|h| h.admitted).sum();
    let refused: u64 = slots.iter().map(|h| h.total() - h.admitted).sum();
    let peak = slots.iter().map(UsageHour::total).max().unwrap_or(0).max(1);
    let width = HOURS * BAR;
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg id=\"usage-chart\" class=\"chart\" viewBox=\"0 0 {width} {}\" role=\"img\" \
         aria-label=\"Requests per hour over the last 7 days: {admitted} admitted, {refused} \
         refused\" xmlns=\"http://www.w3.org/2000/svg\">",
        TOP + HEIGHT + LABELS
    );
    let _ = write!(
        svg,
        "<text x=\"0\" y=\"10\" font-size=\"10\" fill=\"#555\">peak {peak} per hour</text>"
    );
    let base = TOP + HEIGHT;
    for (index, slot) in slots.iter().enumerate() {
        let x = index as i64 * BAR;
        let scaled = |count: u64| count * HEIGHT / peak;
        let ok = scaled(slot.admitted);
        let bad = scaled(slot.total()) - ok;
        if slot.total() == 0 {
            continue;
        }
        let label = format!(
            "{}: {} admitted, {} refused",
            super::html::when(slot.hour),
            slot.admitted,
            slot.total() - slot.admitted
        );
        let _ = write!(svg, "<g><title>{label}</title>");
        if slot.admitted > 0 {
            let _ = write!(
                svg,
                "<rect class=\"admitted\" x=\"{x}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#2f7d32\"/>",
                base - ok.max(1),
                BAR - 1,
                ok.max(1)
            );
        }
        if slot.total() > slot.admitted {
            let bad = bad.max(1);
            let _ = write!(
                svg,
                "<rect class=\"refused\" x=\"{x}\" y=\"{}\" width=\"{}\" height=\"{bad}\" fill=\"#c62828\"/>",
                base - ok.max(u64::from(slot.admitted > 0)) - bad,
                BAR - 1,
            );
        }
        svg.push_str("</g>");
    }
    // A line and the date at each UTC midnight.
    let first_midnight = (24 - i64::from(first.hour())) % 24;
    for index in (first_midnight..HOURS).step_by(24) {
        let x = index * BAR;
        let at = first + Duration::hours(index);
        let _ = write!(
            svg,
            "<line x1=\"{x}\" y1=\"{TOP}\" x2=\"{x}\" y2=\"{base}\" stroke=\"#ddd\"/>"
        );
        // A date too close to the right edge would be cut; its line alone marks the day.
        if x + LABEL_WIDTH <= width {
            let _ = write!(
                svg,
                "<text x=\"{}\" y=\"{}\" font-size=\"10\" fill=\"#555\">{:02}-{:02}</text>",
                x + 2,
                base + 12,
                u8::from(at.month()),
                at.day()
            );
        }
    }
    let _ = write!(
        svg,
        "<line x1=\"0\" y1=\"{base}\" x2=\"{width}\" y2=\"{base}\" stroke=\"#999\"/></svg>\
         <p class=\"hint\">Last 7 days, per UTC hour: <strong>{admitted}</strong> admitted, \
         <strong>{refused}</strong> refused.</p>"
    );
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_hour_with_traffic_draws_a_bar_and_old_hours_are_left_out() {
        let now = OffsetDateTime::now_utc();
        let mut busy = UsageHour::starting(now);
        busy.admitted = 3;
        busy.rate_limited = 1;
        let mut old = UsageHour::starting(now - Duration::days(9));
        old.admitted = 100;
        let svg = usage_chart(&[busy, old], now);
        assert!(svg.contains("class=\"admitted\""), "{svg}");
        assert!(svg.contains("class=\"refused\""), "{svg}");
        assert!(svg.contains("<strong>3</strong> admitted"), "{svg}");
        assert!(svg.contains("<strong>1</strong> refused"), "{svg}");
    }

    #[test]
    fn no_traffic_draws_no_bar() {
        let svg = usage_chart(&[], OffsetDateTime::now_utc());
        assert!(svg.starts_with("<svg id=\"usage-chart\""));
        assert!(!svg.contains("<rect"), "{svg}");
    }
}
