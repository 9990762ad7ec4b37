import { Controller, Get, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { HttpModule } from '../../src/http/http.module.js';
import { SessionStoreUnavailableError } from '../../src/session-cache/session-backend.js';

@Controller()
class NeedsSessionController {
  @Get('needs-session')
  needsSession(): never {
    throw new SessionStoreUnavailableError('redis', 'connect ECONNREFUSED 10.0.0.7:6379');
  }
}

describe('a request whose session store cannot be reached', () => {
  let app: INestApplication;

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [HttpModule],
      controllers: [NeedsSessionController],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
  });
  afterAll(() => app.close());

  it('gets 503 session_store_unavailable in the contract shape, without the cause', async () => {
    const response = await request(app.getHttpServer()).get('/needs-session').expect(503);
    expect(response.body).toEqual({
      statusCode: 503,
      code: 'session_store_unavailable',
      message: expect.any(String),
    });
    expect(response.headers['retry-after']).toBe('5');
    expect(JSON.stringify(response.body)).not.toMatch(/10\.0\.0\.7|ECONNREFUSED/);
  });
});
