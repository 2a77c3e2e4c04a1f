import { parseGatewayOptions, startMagic } from '../cluster';

const form = { workers: '3', threads: '2', memory: '1GiB', gateway: '', options: '', auth: '' };

describe('parseGatewayOptions', () => {
  it('reads numbers and true/false as such and the rest as text, as --option does', () => {
    expect(parseGatewayOptions('worker_cores=2 worker_memory=1.5, image=repo/img:1 gpu=true name=')).toEqual({
      worker_cores: 2,
      worker_memory: 1.5,
      image: 'repo/img:1',
      gpu: true,
      name: ''
    });
    expect(parseGatewayOptions('  ')).toEqual({});
  });

  it('refuses a word that is not NAME=VALUE in one line', () => {
    expect(() => parseGatewayOptions('worker_cores')).toThrow("gateway option 'worker_cores' is not NAME=VALUE");
    expect(() => parseGatewayOptions('=2')).toThrow('is not NAME=VALUE');
  });
});

describe('startMagic', () => {
  it('is the local start line on this machine', () => {
    expect(startMagic('local', form)).toBe('%cluster start --workers 3 --threads 2 --memory 1GiB');
  });

  it('names the gateway, its options and auth (never a secret)', () => {
    expect(startMagic('gateway', form)).toBe('%cluster start --gateway --workers 3');
    expect(
      startMagic('gateway', {
        ...form,
        gateway: ' https://gw.example.org ',
        options: 'worker_cores=2',
        auth: 'jupyterhub'
      })
    ).toBe('%cluster start --gateway https://gw.example.org --workers 3 --option worker_cores=2 --auth jupyterhub');
  });
});
