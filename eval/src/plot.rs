//! PNG line plots of training curves (plotters, bitmap backend, an embedded ASCII subset of DejaVu
//! Sans so that plots render the same on machines without fonts).

use plotters::prelude::*;
use std::path::Path;
use std::sync::Once;

static FONT: &[u8] = include_bytes!("../assets/DejaVuSans-ascii.ttf");
static REGISTER: Once = Once::new();

fn register_font() {
    REGISTER.call_once(|| {
        // The font is embedded and known to parse; if registration failed, plots would have no text.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

/// One named curve.
pub struct Series {
    /// Legend label.
    pub name: String,
    /// Points (x, y); non-finite y values are skipped.
    pub points: Vec<(f64, f64)>,
}

const COLORS: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

/// Draws `series` against `x_label` into a 800x500 PNG at `path`.
pub fn line_plot(path: &Path, title: &str, x_label: &str, series: &[Series]) -> Result<(), String> {
    register_font();
    let points: Vec<(f64, f64)> = series
        .iter()
        .flat_map(|s| s.points.iter().copied())
        .filter(|p| p.1.is_finite())
        .collect();
    if points.is_empty() {
        return Ok(());
    }
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in &points {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if x1 <= x0 {
        x1 = x0 + 1.0;
    }
    let pad = ((y1 - y0) * 0.05).max(1e-9);
    let (y0, y1) = (y0 - pad, y1 + pad);
    let root = BitMapBackend::new(path, (800, 500)).into_drawing_area();
    let err = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .x_desc(x_label)
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(|e| err(&e))?;
    for (i, s) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let pts: Vec<(f64, f64)> = s.points.iter().copied().filter(|p| p.1.is_finite()).collect();
        chart
            .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))
            .map_err(|e| err(&e))?
            .label(s.name.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
        chart
            .draw_series(pts.into_iter().map(|p| Circle::new(p, 3, color.filled())))
            .map_err(|e| err(&e))?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .draw()
        .map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))?;
    Ok(())
}

/// A box to draw: corners in pixels, its label, and a class index choosing the colour.
pub struct LabelledBox {
    /// x1, y1, x2, y2.
    pub bbox: [f32; 4],
    /// Text drawn above the box.
    pub label: String,
    /// Colour index (the class).
    pub class: usize,
}

/// Draws `boxes` onto an RGB image in place: a 2-pixel outline per box and its label on a
/// filled strip above it (inside the image).
pub fn draw_boxes(img: &mut image::RgbImage, boxes: &[LabelledBox]) -> Result<(), String> {
    register_font();
    let (w, h) = img.dimensions();
    let root = BitMapBackend::with_buffer(img.as_mut(), (w, h)).into_drawing_area();
    let err = |e: &dyn std::fmt::Display| format!("drawing boxes: {e}");
    let size = (h.min(w) / 40).clamp(11, 24) as i32;
    for b in boxes {
        let color = COLORS[b.class % COLORS.len()];
        let [x1, y1, x2, y2] = b.bbox.map(|v| v.round() as i32);
        root.draw(&Rectangle::new([(x1, y1), (x2, y2)], color.stroke_width(2)))
            .map_err(|e| err(&e))?;
        let style = TextStyle::from(("sans-serif", size).into_font()).color(&WHITE);
        let (tw, th) = root.estimate_text_size(&b.label, &style).map_err(|e| err(&e))?;
        let top = if y1 - th as i32 - 2 >= 0 {
            y1 - th as i32 - 2
        } else {
            y1
        };
        root.draw(&Rectangle::new(
            [(x1, top), (x1 + tw as i32 + 4, top + th as i32 + 2)],
            color.filled(),
        ))
        .map_err(|e| err(&e))?;
        root.draw(&Text::new(b.label.clone(), (x1 + 2, top + 1), style))
            .map_err(|e| err(&e))?;
    }
    root.present().map_err(|e| err(&e))?;
    Ok(())
}
