//! The sRGB transfer function, between display values (textures, PNG
//! previews) and the linear values renderers write to EXR.

/// The linear value of the sRGB-encoded component `srgb` (0 to 1).
pub fn srgb_to_linear(srgb: f32) -> f32 {
    if srgb <= 0.04045 {
        srgb / 12.92
    } else {
        ((srgb + 0.055) / 1.055).powf(2.4)
    }
}

/// The sRGB encoding (0 to 1) of the linear component `linear`, clamped
/// to the displayable range.
pub fn linear_to_srgb(linear: f32) -> f32 {
    let linear = linear.clamp(0.0, 1.0);
    if linear <= 0.003_130_8 {
        linear * 12.92
    } else {
        1.055 * linear.powf(1.0 / 2.4) - 0.055
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_transfer_function_round_trips() {
        for step in 0..=255 {
            let srgb = step as f32 / 255.0;
            assert!((linear_to_srgb(srgb_to_linear(srgb)) - srgb).abs() < 1e-5);
        }
        assert!((srgb_to_linear(0.5) - 0.214_041).abs() < 1e-5);
        assert!((linear_to_srgb(2.0) - 1.0).abs() < 1e-6);
        assert_eq!(linear_to_srgb(-1.0), 0.0);
    }
}
