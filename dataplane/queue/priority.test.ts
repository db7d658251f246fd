import { ANONYMOUS, type Identity } from '../../shared/config/router-policy';
import { priorityOf, type RequestHeaders } from './priority';

const premium: Identity = { user: 'alice', tier: 'premium', via: 'api-key' };
const free: Identity = { user: 'bob', tier: 'free', via: 'jwt' };
const withHeader = { priorityHeader: 'x-sluice-priority', tierPriorities: { premium: 10, batch: -5 } };
const tiersOnly = { tierPriorities: { premium: 10 } };

describe('priorityOf', () => {
  it.each<[string, RequestHeaders, Identity, Parameters<typeof priorityOf>[2], number]>([
    ['header wins over tier', { 'x-sluice-priority': '3' }, premium, withHeader, 3],
    ['negative header', { 'x-sluice-priority': '-7' }, premium, withHeader, -7],
    ['header with spaces and plus sign', { 'x-sluice-priority': ' +4 ' }, free, withHeader, 4],
    ['header clamped to 100', { 'x-sluice-priority': '1000' }, free, withHeader, 100],
    ['header clamped to -100', { 'x-sluice-priority': '-99999999999999999999' }, free, withHeader, -100],
    ['minus zero is zero', { 'x-sluice-priority': '-0' }, free, withHeader, 0],
    ['non-integer header ignored: tier band', { 'x-sluice-priority': '2.5' }, premium, withHeader, 10],
    ['garbage header ignored: no band', { 'x-sluice-priority': 'high' }, free, withHeader, 0],
    ['empty header ignored', { 'x-sluice-priority': '' }, premium, withHeader, 10],
    ['repeated header: first value', { 'x-sluice-priority': ['7', '9'] }, free, withHeader, 7],
    ['header not configured: not read', { 'x-sluice-priority': '50' }, premium, tiersOnly, 10],
    ['header absent: tier band', {}, premium, withHeader, 10],
    ['tier without a band', {}, free, withHeader, 0],
    ['no tier', {}, ANONYMOUS, withHeader, 0],
    ['tier named like an Object property', {}, { user: 'x', tier: 'constructor', via: 'header' }, tiersOnly, 0],
  ])('%s', (_name, headers, identity, fairness, expected) => {
    expect(priorityOf(headers, identity, fairness)).toBe(expected);
  });
});
