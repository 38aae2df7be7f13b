// myostream binary IMU frame: encoder for firmware (plain C/C++, no Arduino dependency).
//
// Frame layout (every multi-byte field little-endian), see docs/serial-protocol.md:
//   0  2      sync    0xA5 0x5A
//   2  1      kind    0x01: 6 x int16 payload, 0x02: 6 x float32 payload
//   3  1      ranges  int16: bits 0-1 accelerometer full scale (0..3 -> +-2/4/8/16 g),
//                     bits 4-5 gyroscope full scale (0..3 -> +-250/500/1000/2000 deg/s); float32: 0
//   4  2      seq     uint16 sample counter
//   6  4      t_us    uint32 device time in microseconds
//   10 12|24  payload acc_x acc_y acc_z gyr_x gyr_y gyr_z (int16 counts, or float32 m/s^2 and rad/s)
//   22|34 2   crc     CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, xorout 0)
//                     of bytes 2 .. end-3 (kind through payload)
#ifndef MYOSTREAM_FRAME_H
#define MYOSTREAM_FRAME_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define MYOSTREAM_SYNC0 0xA5
#define MYOSTREAM_SYNC1 0x5A
#define MYOSTREAM_KIND_INT16 0x01
#define MYOSTREAM_KIND_FLOAT32 0x02
#define MYOSTREAM_FRAME_INT16_SIZE 24
#define MYOSTREAM_FRAME_FLOAT32_SIZE 36

static inline uint16_t myostream_crc16(const uint8_t *data, size_t n) {
  uint16_t crc = 0xFFFF;
  for (size_t i = 0; i < n; ++i) {
    crc ^= (uint16_t)data[i] << 8;
    for (uint8_t b = 0; b < 8; ++b) {
      crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
    }
  }
  return crc;
}

static inline void myostream_put_u16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v & 0xFF);
  p[1] = (uint8_t)(v >> 8);
}

static inline void myostream_put_u32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v & 0xFF);
  p[1] = (uint8_t)((v >> 8) & 0xFF);
  p[2] = (uint8_t)((v >> 16) & 0xFF);
  p[3] = (uint8_t)(v >> 24);
}

static inline size_t myostream_header(uint8_t *out, uint8_t kind, uint8_t ranges, uint16_t seq, uint32_t t_us) {
  out[0] = MYOSTREAM_SYNC0;
  out[1] = MYOSTREAM_SYNC1;
  out[2] = kind;
  out[3] = ranges;
  myostream_put_u16(out + 4, seq);
  myostream_put_u32(out + 6, t_us);
  return 10;
}

// ranges byte from the MPU-6050 AFS_SEL (0..3) and FS_SEL (0..3) codes
static inline uint8_t myostream_ranges(uint8_t acc_code, uint8_t gyro_code) {
  return (uint8_t)((acc_code & 0x03) | ((gyro_code & 0x03) << 4));
}

// Writes a 24-byte frame with raw int16 counts; returns its size.
static inline size_t myostream_encode_int16(uint8_t out[MYOSTREAM_FRAME_INT16_SIZE], uint16_t seq, uint32_t t_us,
                                            uint8_t ranges, const int16_t values[6]) {
  size_t n = myostream_header(out, MYOSTREAM_KIND_INT16, ranges, seq, t_us);
  for (int i = 0; i < 6; ++i, n += 2) myostream_put_u16(out + n, (uint16_t)values[i]);
  myostream_put_u16(out + n, myostream_crc16(out + 2, n - 2));
  return n + 2;
}

// Writes a 36-byte frame with float32 values in m/s^2 and rad/s; returns its size.
static inline size_t myostream_encode_float32(uint8_t out[MYOSTREAM_FRAME_FLOAT32_SIZE], uint16_t seq, uint32_t t_us,
                                              const float values[6]) {
  size_t n = myostream_header(out, MYOSTREAM_KIND_FLOAT32, 0, seq, t_us);
  for (int i = 0; i < 6; ++i, n += 4) {
    uint32_t bits;
    memcpy(&bits, &values[i], 4);  // IEEE-754 single; written little-endian whatever the CPU order
    myostream_put_u32(out + n, bits);
  }
  myostream_put_u16(out + n, myostream_crc16(out + 2, n - 2));
  return n + 2;
}

#endif  // MYOSTREAM_FRAME_H
