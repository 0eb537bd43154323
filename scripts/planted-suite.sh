# Sourced by sensitivity.sh and sensitivity-calibrate.sh: `planted_suite PCT PARAMS` writes pawl.toml
# in the current folder, a suite timing kernels/testing/planted.cu (as planted.cu beside it) with
# SLOWDOWN_PCT = PCT over the sweep PARAMS (a TOML inline table of W, ITERS and REP).
planted_suite() {
    cat > pawl.toml <<EOF_SUITE
[suite]
name = "planted"

[[bench]]
name = "planted"
kind = "cuda"
source = "planted.cu"
kernel = "planted"
params = $2
defines = { ITERS = "ITERS", SLOWDOWN_PCT = "$1" }
grid = "W * 132 * 8"
block = 256
args = [
    { name = "x", dtype = "f32", count = "W * 132 * 2048" },
    { name = "y", dtype = "f32", count = "W * 132 * 2048", output = true },
    { name = "n", dtype = "i64", value = "W * 132 * 2048" },
]
reference = { kernel = "planted", grid = "W * 132 * 8", block = 256, rtol = 0.0, atol = 0.0 }
EOF_SUITE
}
