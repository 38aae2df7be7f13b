// myostream reference IMU firmware: an MPU-6050 (GY-521 board) over I2C, streamed to myostream.
//
//   OUTPUT_BINARY 1: binary frames (docs/serial-protocol.md), RATE_HZ up to 1000 at 921600 baud
//                    -> python launch.py run --source serial --port PORT --format binary --baud 921600 --imu-rate 1000
//   OUTPUT_BINARY 0: CSV lines "ax,ay,az,gx,gy,gz" in m/s^2 and rad/s, 100 Hz at 115200 baud
//                    -> python launch.py run --source serial --port PORT --format csv
//
// Wiring, boards and flashing: docs/hardware.md. On an AVR board (Uno, Nano) use BAUD 1000000
// for binary: 921600 is not reachable from a 16 MHz clock (about 8 % error), 1000000 is exact.
#include <Wire.h>

#include "myostream_frame.h"

// ------------------------------------------------------------------ configuration
#ifndef OUTPUT_BINARY
#define OUTPUT_BINARY 1
#endif

#if OUTPUT_BINARY
static const uint32_t BAUD = 921600;
static const uint16_t RATE_HZ = 1000;
static const uint8_t DLPF_CFG = 1;  // accel 184 Hz / gyro 188 Hz bandwidth, 1 kHz internal rate
#else
static const uint32_t BAUD = 115200;
static const uint16_t RATE_HZ = 100;
static const uint8_t DLPF_CFG = 3;  // accel 44 Hz / gyro 42 Hz bandwidth: no aliasing at 100 Hz
#endif

static const uint8_t MPU_ADDR = 0x68;   // 0x69 when AD0 is tied high
static const uint8_t ACC_CODE = 2;      // AFS_SEL: 0..3 = +-2/4/8/16 g  (arm movements reach 4-6 g)
static const uint8_t GYRO_CODE = 2;     // FS_SEL: 0..3 = +-250/500/1000/2000 deg/s

// ------------------------------------------------------------------ MPU-6050 registers
static const uint8_t REG_SMPLRT_DIV = 0x19;
static const uint8_t REG_CONFIG = 0x1A;
static const uint8_t REG_GYRO_CONFIG = 0x1B;
static const uint8_t REG_ACCEL_CONFIG = 0x1C;
static const uint8_t REG_ACCEL_XOUT_H = 0x3B;
static const uint8_t REG_PWR_MGMT_1 = 0x6B;
static const uint8_t REG_WHO_AM_I = 0x75;

static const float STANDARD_GRAVITY = 9.80665f;
static const float DEG_TO_RAD_F = 0.017453292519943295f;

static uint16_t seq = 0;
static uint32_t next_us = 0;
static const uint32_t PERIOD_US = 1000000UL / RATE_HZ;

static void write_reg(uint8_t reg, uint8_t value) {
  Wire.beginTransmission(MPU_ADDR);
  Wire.write(reg);
  Wire.write(value);
  Wire.endTransmission();
}

static uint8_t read_reg(uint8_t reg) {
  Wire.beginTransmission(MPU_ADDR);
  Wire.write(reg);
  Wire.endTransmission(false);
  Wire.requestFrom(MPU_ADDR, (uint8_t)1);
  return Wire.available() ? Wire.read() : 0xFF;
}

// Reads accelerometer and gyroscope counts (temperature skipped); false on an I2C error.
static bool read_imu(int16_t out[6]) {
  Wire.beginTransmission(MPU_ADDR);
  Wire.write(REG_ACCEL_XOUT_H);
  if (Wire.endTransmission(false) != 0) return false;
  if (Wire.requestFrom(MPU_ADDR, (uint8_t)14) != 14) return false;
  uint8_t raw[14];
  for (uint8_t i = 0; i < 14; ++i) raw[i] = Wire.read();
  for (uint8_t i = 0; i < 3; ++i) {
    out[i] = (int16_t)((raw[2 * i] << 8) | raw[2 * i + 1]);           // ACCEL_XOUT..ZOUT
    out[3 + i] = (int16_t)((raw[8 + 2 * i] << 8) | raw[9 + 2 * i]);   // GYRO_XOUT..ZOUT
  }
  return true;
}

void setup() {
  Serial.begin(BAUD);
  Wire.begin();
  Wire.setClock(400000);  // fast-mode I2C: a 14-byte burst takes about 0.4 ms
  write_reg(REG_PWR_MGMT_1, 0x01);  // wake up, clock from the X gyro PLL
  delay(100);
  write_reg(REG_CONFIG, DLPF_CFG);
  write_reg(REG_SMPLRT_DIV, (uint8_t)(1000 / RATE_HZ - 1));  // 1 kHz / (1 + div)
  write_reg(REG_GYRO_CONFIG, (uint8_t)(GYRO_CODE << 3));
  write_reg(REG_ACCEL_CONFIG, (uint8_t)(ACC_CODE << 3));
#if !OUTPUT_BINARY
  uint8_t who = read_reg(REG_WHO_AM_I);
  Serial.print("# myostream_imu: MPU-6050 WHO_AM_I=0x");
  Serial.println(who, HEX);  // a text line: the reader skips it
#else
  (void)read_reg(REG_WHO_AM_I);
#endif
  next_us = micros();
}

void loop() {
  if ((int32_t)(micros() - next_us) < 0) return;  // wrap-safe wait for the next sample time
  next_us += PERIOD_US;
  int16_t v[6];
  uint32_t t_us = micros();
  if (!read_imu(v)) {  // the sample is lost; the counter still advances, so the reader sees a gap
    seq++;
    return;
  }
#if OUTPUT_BINARY
  uint8_t frame[MYOSTREAM_FRAME_INT16_SIZE];
  size_t n = myostream_encode_int16(frame, seq, t_us, myostream_ranges(ACC_CODE, GYRO_CODE), v);
  Serial.write(frame, n);
#else
  const float acc_lsb = (2.0f * (float)(1 << ACC_CODE)) * STANDARD_GRAVITY / 32768.0f;
  const float gyro_lsb = (250.0f * (float)(1 << GYRO_CODE)) * DEG_TO_RAD_F / 32768.0f;
  for (uint8_t i = 0; i < 6; ++i) {
    Serial.print(v[i] * (i < 3 ? acc_lsb : gyro_lsb), 5);
    if (i < 5) Serial.print(',');
  }
  Serial.println();
  (void)t_us;
#endif
  seq++;
}
