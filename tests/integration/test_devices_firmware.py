"""The reference firmware, compiled on the host against a small Arduino/MPU-6050 stand-in and decoded in Python."""

from __future__ import annotations

import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from devices.formats import BinaryDecoder, CsvDecoder
from devices.formats import binary as binary_format
from tests.helpers import REPO_ROOT

SKETCH = REPO_ROOT / "firmware" / "myostream_imu"

ARDUINO_MOCK = r"""
#include <cstdint>
#include <cstdio>
#include <cstring>
static uint32_t mock_now_us = 0;
inline uint32_t micros() { return mock_now_us; }
inline void delay(unsigned long ms) { mock_now_us += ms * 1000UL; }
#define HEX 16
struct MockSerial {
  uint32_t baud = 0;
  void begin(uint32_t b) { baud = b; }
  size_t write(const uint8_t *b, size_t n) { return fwrite(b, 1, n, stdout); }
  void print(float v, int d) { printf("%.*f", d, (double)v); }
  void print(char c) { putchar(c); }
  void print(const char *s) { fputs(s, stdout); }
  void println() { fputs("\r\n", stdout); }
  void println(uint8_t v, int) { printf("%X\r\n", v); }
} Serial;
struct MockWire {  // an MPU-6050 register file behind a minimal TwoWire
  uint8_t regs[128] = {0};
  uint8_t ptr = 0;
  bool first = false;
  int avail = 0;
  void begin() {}
  void setClock(uint32_t) {}
  void beginTransmission(uint8_t) { first = true; }
  size_t write(uint8_t v) { if (first) { ptr = v; first = false; } else { regs[ptr++] = v; } return 1; }
  uint8_t endTransmission(bool = true) { return 0; }
  uint8_t requestFrom(uint8_t, uint8_t n) { avail = n; return n; }
  int available() { return avail; }
  int read() { --avail; return regs[ptr++]; }
} Wire;
"""

DRIVER = r"""
int main(int, char **argv) {
  int n = atoi(argv[1]);
  Wire.regs[0x75] = 0x68;
  const int16_t v[7] = {4096, -2048, 1024, 333, 2952, 0, -3280};  // ax ay az temp gx gy gz (counts)
  for (int i = 0; i < 7; ++i) { Wire.regs[0x3B + 2 * i] = (uint8_t)(v[i] >> 8); Wire.regs[0x3C + 2 * i] = v[i] & 0xFF; }
  setup();
  fprintf(stderr, "%u %u %u %u %u %u\n", Serial.baud, Wire.regs[0x1A], Wire.regs[0x19], Wire.regs[0x1B],
          Wire.regs[0x1C], Wire.regs[0x6B]);
  for (long step = 0; step < (long)n * 100; ++step) { loop(); mock_now_us += 50; }
  return 0;
}
"""

COUNTS = np.array([4096, -2048, 1024, 2952, 0, -3280], float)  # ax ay az gx gy gz


def _build(tmp_path: Path, binary: bool) -> Path:
    (tmp_path / "Wire.h").write_text("// provided by arduino_mock.h\n")
    (tmp_path / "arduino_mock.h").write_text(ARDUINO_MOCK)
    main = tmp_path / "main.cpp"
    main.write_text('#include <cstdlib>\n#include "myostream_imu.ino"\n' + DRIVER)
    exe = tmp_path / ("fw_bin" if binary else "fw_csv")
    cmd = ["g++", "-std=c++17", "-Wall", "-Wextra", "-Werror", f"-DOUTPUT_BINARY={int(binary)}",
           "-I", str(tmp_path), "-I", str(SKETCH), "-include", str(tmp_path / "arduino_mock.h"),
           str(main), "-o", str(exe)]
    build = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert build.returncode == 0, build.stderr
    return exe


needs_gpp = pytest.mark.skipif(shutil.which("g++") is None, reason="g++ is needed to compile the sketch on the host")


@needs_gpp
def test_binary_firmware_frames_decode_exactly(tmp_path: Path) -> None:
    exe = _build(tmp_path, binary=True)
    run = subprocess.run([str(exe), "50"], check=True, capture_output=True, timeout=30)
    baud, dlpf, div, gyro_cfg, acc_cfg, pwr = map(int, run.stderr.split())
    assert (baud, dlpf, div, gyro_cfg, acc_cfg, pwr) == (921600, 1, 0, 2 << 3, 2 << 3, 1)  # 1 kHz, ±8 g, ±1000 °/s
    dec = BinaryDecoder()
    out = dec.feed(run.stdout)
    assert dec.counters.crc_errors == 0
    assert dec.counters.bytes_skipped == 0
    assert out.n_samples >= 49
    np.testing.assert_array_equal(out.counter, np.arange(out.n_samples))
    np.testing.assert_allclose(np.diff(out.device_time), 1e-3)  # one frame per millisecond of device time
    lsb = np.array([8 * 9.80665 / 32768] * 3 + [1000 * math.pi / 180 / 32768] * 3)
    np.testing.assert_allclose(out.samples, np.tile(COUNTS * lsb, (out.n_samples, 1)), rtol=1e-6)
    np.testing.assert_array_equal(out.samples[0], binary_format.quantize((COUNTS * lsb)[None], "int16")[1][0])


@needs_gpp
def test_csv_firmware_lines_decode(tmp_path: Path) -> None:
    exe = _build(tmp_path, binary=False)
    run = subprocess.run([str(exe), "300"], check=True, capture_output=True, timeout=30)
    baud, dlpf, div, *_ = map(int, run.stderr.split())
    assert (baud, dlpf, div) == (115200, 3, 9)  # 100 Hz with a 44 Hz low-pass
    dec = CsvDecoder()
    out = dec.feed(run.stdout)
    assert dec.counters.text_lines == 1  # the banner
    assert dec.counters.malformed == 0
    assert out.n_samples >= 29
    lsb = np.array([8 * 9.80665 / 32768] * 3 + [1000 * math.pi / 180 / 32768] * 3)
    np.testing.assert_allclose(out.samples, np.tile(COUNTS * lsb, (out.n_samples, 1)), atol=1e-5)


@needs_gpp
def test_frame_header_crc_matches_python(tmp_path: Path) -> None:
    src = tmp_path / "crc.cpp"
    src.write_text('#include <cstdio>\n#include "myostream_frame.h"\nint main() {\n'
                   '  const uint8_t msg[] = "123456789"; printf("%04X ", myostream_crc16(msg, 9));\n'
                   '  const float v[6] = {1.5f, -2.25f, 9.80665f, 0.1f, -0.2f, 3.0f}; uint8_t f[36];\n'
                   '  size_t n = myostream_encode_float32(f, 65535, 4000000000u, v);\n'
                   '  for (size_t i = 0; i < n; ++i) printf("%02X", f[i]);\n'
                   '  return 0;\n}\n')
    exe = tmp_path / "crc"
    subprocess.run(["g++", "-std=c++17", "-Wall", "-Werror", "-I", str(SKETCH), str(src), "-o", str(exe)],
                   check=True, capture_output=True, timeout=60)
    crc, frame = subprocess.run([str(exe)], check=True, capture_output=True, text=True, timeout=10).stdout.split()
    assert crc == "29B1"
    expected = binary_format.encode_frames(np.array([[1.5, -2.25, 9.80665, 0.1, -0.2, 3.0]]), [65535],
                                           [4_000_000_000], "float32")
    assert bytes.fromhex(frame) == expected
