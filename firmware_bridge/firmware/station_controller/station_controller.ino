// Reference firmware: groundseg station controller, protocol version 1
// (firmware_bridge/STATION_CONTROLLER.md). Arduino-class boards (ATmega328P,
// RP2040 with the Arduino core). The pin map and sensor scaling below are
// examples: adapt them to the front end's hardware.
//
// Outputs are active high. Sensors: TMP36 on A0 (10 mV/degC, 500 mV at 0
// degC), supply through a 1:4 divider on A1, forward/reflected power
// detectors on A2/A3 (square-law: P = K * V^2, K from calibration).

#include <Arduino.h>

static const uint8_t PIN_LNA = 2, PIN_PA = 3, PIN_TR = 4, PIN_ANT = 5;
static const uint8_t PIN_TEMP = A0, PIN_SUPPLY = A1, PIN_FWD = A2, PIN_REF = A3;
static const float ADC_VREF = 5.0f, ADC_MAX = 1023.0f;
static const float SUPPLY_DIVIDER = 4.0f;
static const float FWD_K_MW_PER_V2 = 12500.0f, REF_K_MW_PER_V2 = 12500.0f;

enum : uint8_t { VERSION = 1, MAX_PAYLOAD = 64 };
enum : uint8_t { PING = 0x01, GET_STATUS = 0x02, SET_OUTPUTS = 0x03, READ_SENSORS = 0x04,
                 SET_WATCHDOG = 0x05, CLEAR_FAULTS = 0x06, REPLY = 0x80, NAK = 0xFF };
enum : uint8_t { OUT_LNA = 0x01, OUT_PA = 0x02, OUT_TX = 0x04, OUT_ANT_B = 0x08, OUT_ALL = 0x0F };
enum : uint8_t { F_WATCHDOG = 0x01, F_OVERTEMP = 0x02, F_HIGH_SWR = 0x04, F_UNDERVOLT = 0x08 };
enum : uint8_t { E_UNKNOWN_TYPE = 1, E_BAD_LENGTH = 2, E_INTERLOCK = 3, E_FAULT_LATCHED = 4,
                 E_BAD_VALUE = 5, E_VERSION = 6 };

static uint8_t outputs = OUT_LNA, faults = 0;
static uint16_t watchdog_s = 10, crc_errors = 0;
static uint32_t last_host_ms = 0;

// Receive state
static uint8_t rx[6 + MAX_PAYLOAD + 2];
static uint8_t rx_len = 0;
static uint32_t rx_last_ms = 0;

// Repeat cache: the last executed request and its reply
static uint8_t cache_req[6 + MAX_PAYLOAD + 2], cache_req_len = 0;
static uint8_t cache_rep[6 + MAX_PAYLOAD + 2], cache_rep_len = 0;

static uint16_t crc16(const uint8_t *p, uint8_t n) {  // CRC-16/CCITT-FALSE
  uint16_t crc = 0xFFFF;
  while (n--) {
    crc ^= (uint16_t)(*p++) << 8;
    for (uint8_t i = 0; i < 8; i++) crc = (crc & 0x8000) ? (crc << 1) ^ 0x1021 : crc << 1;
  }
  return crc;
}

static void apply_outputs() {
  digitalWrite(PIN_LNA, outputs & OUT_LNA ? HIGH : LOW);
  digitalWrite(PIN_TR, outputs & OUT_TX ? HIGH : LOW);
  digitalWrite(PIN_ANT, outputs & OUT_ANT_B ? HIGH : LOW);
  digitalWrite(PIN_PA, outputs & OUT_PA ? HIGH : LOW);
}

static void pa_off(uint8_t fault) {
  outputs &= ~OUT_PA;
  digitalWrite(PIN_PA, LOW);  // PA first, always
  faults |= fault;
}

static float volts(uint8_t pin) { return analogRead(pin) * ADC_VREF / ADC_MAX; }
static int16_t temperature_cdeg() { return (int16_t)((volts(PIN_TEMP) - 0.5f) * 10000.0f); }
static uint16_t supply_mv() { return (uint16_t)(volts(PIN_SUPPLY) * SUPPLY_DIVIDER * 1000.0f); }
static uint32_t power_mw(uint8_t pin, float k) { float v = volts(pin); return (uint32_t)(k * v * v); }

static uint8_t reply_len;
static uint8_t *put16(uint8_t *p, uint16_t v) { p[0] = v >> 8; p[1] = v; return p + 2; }
static uint8_t *put32(uint8_t *p, uint32_t v) { p = put16(p, v >> 16); return put16(p, v); }

static void frame(uint8_t *out, uint8_t seq, uint8_t type, const uint8_t *payload, uint8_t n) {
  out[0] = 0xA5; out[1] = 0x5A; out[2] = VERSION; out[3] = seq; out[4] = type; out[5] = n;
  memcpy(out + 6, payload, n);
  uint16_t c = crc16(out + 2, 4 + n);
  out[6 + n] = c >> 8; out[7 + n] = c;
  reply_len = 8 + n;
}

static void status_payload(uint8_t *p) {
  p[0] = outputs; p[1] = faults; put16(p + 2, watchdog_s); put16(p + 4, crc_errors);
}

static uint8_t interlock(uint8_t old_o, uint8_t new_o) {
  bool pa_new = new_o & OUT_PA;
  if (pa_new && faults) return E_FAULT_LATCHED;
  if (pa_new && !(new_o & OUT_TX)) return E_INTERLOCK;
  if ((new_o & OUT_LNA) && (new_o & OUT_TX)) return E_INTERLOCK;
  if (((old_o ^ new_o) & (OUT_TX | OUT_ANT_B)) && ((old_o & OUT_PA) || pa_new)) return E_INTERLOCK;
  return 0;
}

static void execute(uint8_t seq, uint8_t type, const uint8_t *pl, uint8_t n, uint8_t *out) {
  uint8_t p[MAX_PAYLOAD];
  uint8_t err = 0;
  if (rx[2] != VERSION) err = E_VERSION;
  else if (type == PING) {
    p[0] = VERSION; p[1] = 1; p[2] = 0;
    put32(p + 3, millis() / 1000);
    const char name[] = "groundseg-stationctl";
    memcpy(p + 7, name, sizeof(name) - 1);
    frame(out, seq, type | REPLY, p, 7 + sizeof(name) - 1);
    return;
  } else if (type == GET_STATUS || type == CLEAR_FAULTS) {
    if (n) err = E_BAD_LENGTH;
    else { if (type == CLEAR_FAULTS) faults = 0; }
  } else if (type == SET_WATCHDOG) {
    if (n != 2) err = E_BAD_LENGTH; else watchdog_s = ((uint16_t)pl[0] << 8) | pl[1];
  } else if (type == SET_OUTPUTS) {
    if (n != 2) err = E_BAD_LENGTH;
    else if ((pl[0] & ~OUT_ALL) || (pl[1] & ~pl[0])) err = E_BAD_VALUE;
    else {
      uint8_t new_o = (outputs & ~pl[0]) | pl[1];
      err = interlock(outputs, new_o);
      if (!err) {
        // PA off before any relay moves, PA on only after them.
        if (!(new_o & OUT_PA)) { outputs &= ~OUT_PA; digitalWrite(PIN_PA, LOW); }
        outputs = new_o;
        apply_outputs();
      }
    }
  } else if (type == READ_SENSORS) {
    if (n) err = E_BAD_LENGTH;
    else {
      uint8_t *q = put16(p, (uint16_t)temperature_cdeg());
      q = put16(q, supply_mv());
      q = put32(q, power_mw(PIN_FWD, FWD_K_MW_PER_V2));
      put32(q, power_mw(PIN_REF, REF_K_MW_PER_V2));
      frame(out, seq, type | REPLY, p, 12);
      return;
    }
  } else err = E_UNKNOWN_TYPE;
  if (err) { p[0] = type; p[1] = err; frame(out, seq, NAK, p, 2); return; }
  status_payload(p);
  frame(out, seq, type | REPLY, p, 6);
}

static void drop(uint8_t k) {
  memmove(rx, rx + k, rx_len - k);
  rx_len -= k;
}

// Take what is in rx: hunt the sync, check header and CRC, answer complete
// frames; a rejected frame is dropped one byte at a time (the hunt resumes
// one byte after its sync).
static void process() {
  for (;;) {
    uint8_t i = 0;
    while (i < rx_len && !(rx[i] == 0xA5 && (i + 1 == rx_len || rx[i + 1] == 0x5A))) i++;
    if (i) drop(i);
    if (rx_len < 6) return;
    uint8_t n = rx[5];
    if (n > MAX_PAYLOAD) { drop(1); continue; }
    if (rx_len < 8 + n) return;
    uint16_t got = ((uint16_t)rx[6 + n] << 8) | rx[7 + n];
    if (crc16(rx + 2, 4 + n) != got) { crc_errors++; drop(1); continue; }
    last_host_ms = millis();
    uint8_t len = 8 + n;
    if (len == cache_req_len && memcmp(rx, cache_req, len) == 0) {
      Serial.write(cache_rep, cache_rep_len);         // a retry: answer again, do not act twice
    } else {
      execute(rx[3], rx[4], rx + 6, n, cache_rep);
      cache_rep_len = reply_len;
      memcpy(cache_req, rx, len);
      cache_req_len = len;
      Serial.write(cache_rep, cache_rep_len);
    }
    drop(len);
  }
}

static void handle_byte(uint8_t b) {
  if (rx_len == sizeof(rx)) drop(1);
  rx[rx_len++] = b;
  process();
}

static void check_faults() {
  if (!(outputs & OUT_PA)) return;
  if (watchdog_s && millis() - last_host_ms > (uint32_t)watchdog_s * 1000UL) pa_off(F_WATCHDOG);
  else if (temperature_cdeg() > 7000) pa_off(F_OVERTEMP);
  else if (supply_mv() < 11000) pa_off(F_UNDERVOLT);
  else {
    uint32_t f = power_mw(PIN_FWD, FWD_K_MW_PER_V2), r = power_mw(PIN_REF, REF_K_MW_PER_V2);
    if (f > 1000 && r * 4 > f) pa_off(F_HIGH_SWR);   // |rho| > 0.5  <=>  SWR > 3
  }
}

void setup() {
  pinMode(PIN_PA, OUTPUT); digitalWrite(PIN_PA, LOW);
  pinMode(PIN_LNA, OUTPUT); pinMode(PIN_TR, OUTPUT); pinMode(PIN_ANT, OUTPUT);
  apply_outputs();
  Serial.begin(115200);
  last_host_ms = millis();
}

void loop() {
  while (Serial.available()) {
    handle_byte((uint8_t)Serial.read());
    rx_last_ms = millis();
  }
  if (rx_len && millis() - rx_last_ms > 100) rx_len = 0;   // stale partial frame
  check_faults();
}
