// Device profiles: plausible sensor data from random walks, daily cycles and occasional spikes.
// A generator depends only on its random stream and on how many readings it produced before, so
// (seed, device index, sequence) fixes every value. Daily cycles run on simulated time (each
// reading advances the profile's own clock by `simulatedSecondsPerReading`), never on the wall
// clock, so that timing cannot change a payload and a short run still shows the cycle.
import type { Random } from './prng.ts';
import { clamp, gaussian, integer, pick, round, uniform } from './prng.ts';

export const PROFILE_NAMES = ['thermostat', 'air-quality', 'vibration', 'gps'] as const;
export type ProfileName = (typeof PROFILE_NAMES)[number];

import type { AttributeValue } from '../src/ingest/reading.ts';

export type { AttributeValue };
export type Attributes = Record<string, AttributeValue>;

export interface ProfileGenerator {
  /** The attributes of the next reading (never `ts` or another reserved name). */
  next(): Attributes;
}

export interface Profile {
  readonly name: ProfileName;
  readonly description: string;
  /** Simulated seconds between two readings: the clock of the daily cycle. */
  readonly simulatedSecondsPerReading: number;
  createGenerator(random: Random): ProfileGenerator;
}

const SECONDS_PER_DAY = 86_400;

/** A mean-reverting random walk (Ornstein-Uhlenbeck, discretised). */
function meanReverting(random: Random, start: number, pull: number, step: number): (target: number) => number {
  let value = start;
  return (target) => {
    value += pull * (target - value) + step * gaussian(random);
    return value;
  };
}

/** Occasional spikes: returns the spike's remaining size (0 when none) and decays it. */
function spikes(random: Random, probability: number, size: () => number, decay: number): () => number {
  let current = 0;
  return () => {
    if (current === 0 && random() < probability) current = size();
    const value = current;
    current = Math.abs(current * decay) < 0.05 ? 0 : current * decay;
    return value;
  };
}

/** 0..1..0 over a simulated day; `peakHour` is where it reaches 1. */
function dailyCycle(simulatedSeconds: number, peakHour: number): number {
  const phase = (simulatedSeconds / SECONDS_PER_DAY - peakHour / 24) * 2 * Math.PI;
  return (1 + Math.cos(phase)) / 2;
}

const thermostat: Profile = {
  name: 'thermostat',
  description: 'room thermostat, one reading per simulated minute: temperature (°C, daily cycle, '
    + 'window-open dips), humidity (%), battery (%, slowly draining)',
  simulatedSecondsPerReading: 60,
  createGenerator(random) {
    const startSeconds = integer(random, 0, 23) * 3600;
    const setpoint = round(uniform(random, 19, 23), 1);
    const temperature = meanReverting(random, setpoint, 0.05, 0.05);
    const humidity = meanReverting(random, uniform(random, 35, 55), 0.02, 0.3);
    const windowOpen = spikes(random, 0.003, () => -uniform(random, 2, 6), 0.9);
    let battery = uniform(random, 60, 100);
    let sequence = 0;
    return {
      next() {
        const seconds = startSeconds + sequence * 60;
        sequence += 1;
        const cycle = dailyCycle(seconds, 15);
        const t = temperature(setpoint - 1.5 + 3 * cycle) + windowOpen();
        battery = Math.max(0, battery - 0.002 - 0.001 * random());
        return {
          temperature: round(t, 2),
          humidity: round(clamp(humidity(60 - 15 * cycle), 5, 95), 1),
          battery: round(battery, 1),
        };
      },
    };
  },
};

const airQuality: Profile = {
  name: 'air-quality',
  description: 'indoor/outdoor air monitor, one reading per simulated minute: pm2_5 and pm10 '
    + '(µg/m³, rush-hour cycle, smoke spikes), co2 (ppm, occupancy cycle), voc (ppb)',
  simulatedSecondsPerReading: 60,
  createGenerator(random) {
    const startSeconds = integer(random, 0, 23) * 3600;
    const base = uniform(random, 5, 20);
    const pm = meanReverting(random, base, 0.05, 0.8);
    const smoke = spikes(random, 0.002, () => uniform(random, 40, 200), 0.92);
    const co2 = meanReverting(random, 450, 0.05, 8);
    const voc = meanReverting(random, uniform(random, 60, 150), 0.03, 5);
    const coarseRatio = uniform(random, 1.3, 1.8);
    let sequence = 0;
    return {
      next() {
        const seconds = startSeconds + sequence * 60;
        sequence += 1;
        const rush = Math.max(dailyCycle(seconds, 8.5), dailyCycle(seconds, 18)) ** 4;
        const occupied = dailyCycle(seconds, 14) ** 2;
        const pm25 = clamp(pm(base * (1 + 1.5 * rush)) + smoke(), 0, 999);
        return {
          pm2_5: round(pm25, 1),
          pm10: round(clamp(pm25 * coarseRatio + 2 * random(), 0, 1999), 1),
          co2: Math.round(clamp(co2(420 + 700 * occupied), 380, 5000)),
          voc: Math.round(clamp(voc(80 + 200 * occupied), 0, 2000)),
        };
      },
    };
  },
};

const vibration: Profile = {
  name: 'vibration',
  description: 'accelerometer on a rotating machine, 100 simulated readings/s: ax, ay, az (g), '
    + 'rms (g), rpm; occasional impacts. Meant for high --rate',
  simulatedSecondsPerReading: 0.01,
  createGenerator(random) {
    const rpm = meanReverting(random, uniform(random, 1200, 3000), 0.01, 2);
    const amplitude = uniform(random, 0.05, 0.3);
    const impact = spikes(random, 0.001, () => uniform(random, 1, 4), 0.6);
    let phase = random() * 2 * Math.PI;
    return {
      next() {
        const speed = rpm(2000);
        phase = (phase + 2 * Math.PI * (speed / 60) * 0.01) % (2 * Math.PI);
        const hit = impact();
        const ax = amplitude * Math.sin(phase) + 0.02 * gaussian(random) + hit;
        const ay = amplitude * Math.cos(phase) + 0.02 * gaussian(random);
        const az = 1 + 0.3 * amplitude * Math.sin(2 * phase) + 0.02 * gaussian(random) + hit / 2;
        const rms = Math.sqrt((ax * ax + ay * ay + (az - 1) * (az - 1)) / 3);
        return {
          ax: round(ax, 4),
          ay: round(ay, 4),
          az: round(az, 4),
          rms: round(rms, 4),
          rpm: Math.round(speed),
        };
      },
    };
  },
};

const CITIES = [
  { lat: 52.52, lon: 13.405 },
  { lat: 48.8566, lon: 2.3522 },
  { lat: 40.4168, lon: -3.7038 },
  { lat: 41.9028, lon: 12.4964 },
  { lat: 47.3769, lon: 8.5417 },
] as const;

const gps: Profile = {
  name: 'gps',
  description: 'vehicle tracker, one reading per simulated 5 s: lat, lon, speed (km/h), heading '
    + '(°), and a nested object fix {satellites, hdop, alt}; stops at lights, turns',
  simulatedSecondsPerReading: 5,
  createGenerator(random) {
    const city = pick(random, CITIES);
    let lat = city.lat + uniform(random, -0.05, 0.05);
    let lon = city.lon + uniform(random, -0.05, 0.05);
    let heading = uniform(random, 0, 360);
    let speed = 0;
    let stoppedFor = 0;
    const alt = meanReverting(random, uniform(random, 20, 400), 0.1, 0.5);
    return {
      next() {
        if (stoppedFor > 0) {
          stoppedFor -= 1;
          speed = 0;
        } else if (random() < 0.03) {
          stoppedFor = integer(random, 2, 12);
          speed = 0;
        } else {
          speed = clamp(speed + uniform(random, -8, 10), 0, 90);
        }
        if (random() < 0.05) heading = (heading + pick(random, [-90, 90])) % 360;
        heading = (heading + 360 + 5 * gaussian(random)) % 360;
        const metres = (speed / 3.6) * 5;
        const radians = (heading * Math.PI) / 180;
        lat = clamp(lat + (metres * Math.cos(radians)) / 111_320, -89.9, 89.9);
        lon += (metres * Math.sin(radians)) / (111_320 * Math.cos((lat * Math.PI) / 180));
        lon = ((lon + 540) % 360) - 180;
        return {
          lat: round(lat, 6),
          lon: round(lon, 6),
          speed: round(speed, 1),
          heading: Math.round(heading),
          fix: {
            satellites: integer(random, 4, 14),
            hdop: round(uniform(random, 0.6, 2.5), 1),
            alt: round(alt(200), 1),
          },
        };
      },
    };
  },
};

export const PROFILES: Readonly<Record<ProfileName, Profile>> = {
  thermostat,
  'air-quality': airQuality,
  vibration,
  gps,
};
