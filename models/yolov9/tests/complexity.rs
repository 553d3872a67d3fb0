//! Parameter counts and FLOPs of every variant against the reference's (nc 80, 640x640): the
//! parameter counts are those of the reference code's `model.parameters()` (built from its own
//! configurations, `../shared/reference/yolov9.md` section 5), so equality checks every layer
//! table and block width; GFLOPs are ours (2 x conv MACs) beside the reference's thop counts.

use burn::prelude::*;
use zoo_yolov9::YoloConfig;

/// (name, params, fused params, GFLOPs, fused GFLOPs) of the reference implementations.
const REFERENCE: [(&str, usize, usize, f64, f64); 15] = [
    ("gelan-t", 2_442_640, 2_407_632, 10.08, 9.82),
    ("gelan-s", 7_226_208, 7_105_888, 27.04, 26.38),
    ("gelan-m", 20_124_000, 19_978_672, 77.35, 76.32),
    ("gelan-c", 25_498_752, 25_288_768, 103.51, 102.15),
    ("gelan-e", 58_114_432, 57_345_920, 192.50, 188.95),
    ("yolov9-t", 3_717_680, 3_674_576, 16.53, 16.17),
    ("yolov9-s", 9_804_512, 9_659_168, 39.95, 39.06),
    ("yolov9-m", 32_878_432, 32_667_400, 133.02, 131.33),
    ("yolov9-c", 51_182_080, 50_880_768, 239.88, 237.64),
    ("yolov9-e", 69_529_664, 68_669_632, 245.53, 241.36),
    ("ultralytics-yolov9t", 2_128_720, 2_094_000, 8.48, 8.23),
    ("ultralytics-yolov9s", 7_318_368, 7_198_048, 27.55, 26.90),
    ("ultralytics-yolov9m", 20_216_160, 20_070_832, 77.86, 76.83),
    ("ultralytics-yolov9c", 25_590_912, 25_380_928, 104.01, 102.66),
    ("ultralytics-yolov9e", 58_206_592, 57_438_080, 193.01, 189.47),
];

#[test]
fn every_variant_has_the_reference_parameter_count() {
    let device = Device::flex();
    for (name, params, fused_params, gflops, fused_gflops) in REFERENCE {
        let model = YoloConfig::from_name(name, 80).unwrap().init(&device).unwrap();
        let ours = model.num_parameters();
        let g = model.flops([640, 640]) as f64 / 1e9;
        let fused = model.fuse();
        let (ours_fused, gf) = (fused.num_parameters(), fused.flops([640, 640]) as f64 / 1e9);
        eprintln!(
            "{name:>20}: params {ours} (ref {params}), fused {ours_fused} (ref {fused_params}); \
             GFLOPs {g:.2} (ref {gflops}), fused {gf:.2} (ref {fused_gflops})"
        );
        assert_eq!(ours, params, "{name}: parameters");
        assert_eq!(ours_fused, fused_params, "{name}: fused parameters");
        // Ours counts convolution MACs only; thop also counts the fused biases (and, unfused, the
        // BNs), hence 0.1 % below on fused models.
        assert!(
            (gf - fused_gflops).abs() / fused_gflops < 2e-3,
            "{name}: fused GFLOPs {gf}"
        );
    }
}

#[test]
fn pgi_removal_keeps_the_main_output_for_every_size() {
    let device = Device::flex();
    for size in ["t", "s", "m", "c", "e"] {
        let dual = YoloConfig::from_name(&format!("yolov9-{size}"), 5)
            .unwrap()
            .init(&device)
            .unwrap();
        let x = Tensor::<4>::random([1, 3, 64, 96], burn::tensor::Distribution::Default, &device);
        let main = dual.forward(x.clone()).decode();
        let gelan = dual.remove_pgi();
        let fresh = YoloConfig::from_name(&format!("gelan-{size}"), 5)
            .unwrap()
            .init(&device)
            .unwrap();
        assert_eq!(gelan.config(), fresh.config());
        assert_eq!(gelan.num_parameters(), fresh.num_parameters(), "gelan-{size}");
        let converted = gelan.predict(x);
        assert_eq!(
            converted.into_data().try_into_vec::<f32>().unwrap(),
            main.into_data().try_into_vec::<f32>().unwrap(),
            "yolov9-{size} main output vs converted gelan-{size}"
        );
    }
}
