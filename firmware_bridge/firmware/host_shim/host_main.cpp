// Host harness for the reference firmware (tests only). Usage:
//   station_controller_host FD
// FD: an open file descriptor (the master side of a pty) used as the serial
// port. Analog inputs simulate the front end: 25 degC, 13.8 V, and 50 W
// forward / 0.5 W reflected while the PA output (pin 3) is high.
#include "Arduino.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static int fd = -1;
static uint8_t pins[32];
static uint8_t rxbuf[4096];
static size_t rx_head = 0, rx_tail = 0;
HostSerial Serial;

uint32_t millis() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint32_t)(ts.tv_sec * 1000ull + ts.tv_nsec / 1000000ull);
}
void pinMode(uint8_t, uint8_t) {}
void digitalWrite(uint8_t pin, uint8_t value) { pins[pin & 31] = value; }

static int volts_to_adc(double v) { return (int)(v / 5.0 * 1023.0 + 0.5); }
int analogRead(uint8_t pin) {
  bool pa = pins[3] != 0;
  switch (pin) {
    case A0: return volts_to_adc(0.75);                              // TMP36 at 25 degC
    case A1: return volts_to_adc(13.8 / 4.0);                        // supply through 1:4
    case A2: return pa ? volts_to_adc(2.0) : 0;                      // 12500 * 2.0^2 = 50 W
    case A3: return pa ? volts_to_adc(0.2) : 0;                      // 12500 * 0.2^2 = 0.5 W
  }
  return 0;
}

void HostSerial::begin(long) {}
int HostSerial::available() {
  if (rx_head == rx_tail) {
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 1) > 0) {
      if (p.revents & (POLLHUP | POLLERR)) exit(0);
      ssize_t n = ::read(fd, rxbuf, sizeof(rxbuf));
      if (n <= 0) exit(0);
      rx_head = 0;
      rx_tail = (size_t)n;
    }
  }
  return (int)(rx_tail - rx_head);
}
int HostSerial::read() { return rx_head < rx_tail ? rxbuf[rx_head++] : -1; }
size_t HostSerial::write(const uint8_t *data, size_t n) {
  size_t done = 0;
  while (done < n) {
    ssize_t w = ::write(fd, data + done, n - done);
    if (w <= 0) exit(0);
    done += (size_t)w;
  }
  return n;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s FD\n", argv[0]);
    return 2;
  }
  fd = atoi(argv[1]);
  setup();
  for (;;) loop();
}
