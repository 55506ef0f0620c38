import { ApiException } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { fieldErrorsOf, fieldOfPath, formFromKey, specFromForm } from './form.ts';

describe('specFromForm', () => {
  it('create: lists split on commas, spaces and newlines; empty fields left out', () => {
    expect(
      specFromForm(
        {
          team: 'payments',
          models: 'gpt-4o-mini, gpt-5\ntext-embedding-3-small',
          endpoints: '',
          expiration: '30d',
          rpm: '60',
          budgetCredits: '',
          budgetPeriod: 'Never',
        },
        'create',
      ),
    ).toEqual({
      spec: {
        team: 'payments',
        allowedModels: ['gpt-4o-mini', 'gpt-5', 'text-embedding-3-small'],
        expiration: '30d',
        rateLimit: { requestsPerMinute: 60 },
      },
      errors: {},
    });
  });
  it('patch: empty fields become null so the merge patch removes them', () => {
    const { spec } = specFromForm(
      { team: 'payments', models: '', environment: '', expiration: 'Never', rpm: '', tpm: '' },
      'patch',
    );
    expect(spec).toEqual({
      team: 'payments',
      environment: null,
      allowedModels: null,
      allowedEndpoints: null,
      ipAllowlist: null,
      expiration: 'Never',
      rateLimit: null,
      budget: null,
    });
  });
  it.each([
    [{ team: '' }, 'team', /choose the Team/],
    [{ team: 't', rpm: '6O' }, 'rpm', /"6O" is not a whole number/],
    [{ team: 't', budgetCredits: '1.5' }, 'budgetCredits', /not a whole number/],
    [{ team: 't', budgetPeriod: 'Daily' }, 'budgetCredits', /needs a number of credits/],
  ] as const)('%j → an error on %s', (form, field, message) => {
    expect(specFromForm(form, 'create').errors[field]).toMatch(message);
  });
  it('budget with a period', () => {
    expect(specFromForm({ team: 't', budgetCredits: '1000', budgetPeriod: 'Monthly' }, 'create').spec.budget).toEqual({
      credits: 1000,
      period: 'Monthly',
    });
  });
  it('formFromKey round-trips through specFromForm', () => {
    const spec = {
      team: 'p',
      environment: 'prod' as const,
      allowedModels: ['a', 'b'],
      ipAllowlist: ['10.0.0.0/8'],
      expiration: '90d',
      rateLimit: { requestsPerMinute: 5, tokensPerMinute: 7 },
      budget: { credits: 9, period: 'Daily' as const },
    };
    const form = formFromKey({ metadata: { name: 'k' }, spec });
    expect(specFromForm(form, 'create').spec).toEqual(spec);
  });
});

describe('API server errors → form fields', () => {
  it.each([
    ['spec.allowedModels[0]', 'models'],
    ['spec.ipAllowlist[2]', 'ips'],
    ['spec.rateLimit.requestsPerMinute', 'rpm'],
    ['spec.budget.credits', 'budgetCredits'],
    ['metadata.name', 'name'],
    ['spec.expiration', 'expiration'],
    ['spec.rotation.before', '_form'],
    [undefined, '_form'],
  ])('%s → %s', (path, field) => expect(fieldOfPath(path)).toBe(field));

  it('a 422 Status with causes puts each message on its field', () => {
    const body = JSON.stringify({
      kind: 'Status',
      code: 422,
      message: 'ApiKey.keys.nemorouter.io "x" is invalid',
      details: {
        causes: [
          { field: 'spec.ipAllowlist[1]', message: 'Invalid value: "string": must be a CIDR' },
          { field: 'spec.rotation.before', message: 'bad duration' },
        ],
      },
    });
    expect(fieldErrorsOf(new ApiException(422, 'Invalid', body, {}))).toEqual({
      ips: 'entry 2: must be a CIDR',
      _form: 'spec.rotation.before: bad duration',
    });
  });
  it("a 409 without causes is the form's message; a non-API error is not ours", () => {
    const body = JSON.stringify({ kind: 'Status', code: 409, message: 'apikeys "x" already exists' });
    expect(fieldErrorsOf(new ApiException(409, 'Conflict', body, {}))).toEqual({ _form: 'apikeys "x" already exists' });
    expect(fieldErrorsOf(new Error('fetch failed'))).toBeUndefined();
  });
});
