// Host build of the reference firmware (tests only): the few Arduino calls the
// sketch uses, on a POSIX file descriptor instead of a UART. Not for boards.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define HIGH 1
#define LOW 0
#define INPUT 0
#define OUTPUT 1
#define A0 14
#define A1 15
#define A2 16
#define A3 17

uint32_t millis();
void pinMode(uint8_t pin, uint8_t mode);
void digitalWrite(uint8_t pin, uint8_t value);
int analogRead(uint8_t pin);

struct HostSerial {
  void begin(long baud);
  int available();
  int read();
  size_t write(const uint8_t *data, size_t n);
};
extern HostSerial Serial;

void setup();
void loop();
