// Run request sequences against the real express-session and print, per
// request, whether Set-Cookie came, whether the session ID was new, and which
// store methods ran. Scenarios come as JSON on stdin; the answer is JSON.
//
// A scenario is {"stages": [{"options": {...}, "steps": [[method, path, form]]}]}.
// Each stage is a fresh express app over the same MemoryStore, as a restart
// with new options over a store that outlives it.

'use strict'

const http = require('http')
const express = require('express')
const session = require('express-session')

const NAME = 'sid'

class RecordingStore extends session.MemoryStore {
  constructor () {
    super()
    this.calls = []
  }
}

for (const verb of ['get', 'set', 'touch', 'destroy']) {
  RecordingStore.prototype[verb] = function (...args) {
    this.calls.push(verb)
    return session.MemoryStore.prototype[verb].apply(this, args)
  }
}

function specimen (store, options) {
  const app = express()
  app.use(express.urlencoded({ extended: false }))
  app.use(session({ ...options, name: NAME, secret: 'crosscheck', store }))

  // The handler sees the session ID the request ends with, sent or not.
  const reply = (req, res, data) => {
    store.lastId = req.sessionID
    res.json(data)
  }
  const answer = (req, res) => {
    const data = {}
    for (const key of Object.keys(req.session || {})) {
      if (key !== 'cookie') data[key] = req.session[key]
    }
    reply(req, res, data)
  }
  app.get('/', answer)
  app.post('/set', (req, res) => {
    req.session[req.body.key] = req.body.value
    answer(req, res)
  })
  app.post('/login', (req, res, next) => {
    req.session.regenerate((error) => {
      if (error) return next(error)
      req.session.user = req.body.user
      answer(req, res)
    })
  })
  app.post('/logout', (req, res, next) => {
    req.session.destroy((error) => (error ? next(error) : reply(req, res, {})))
  })
  app.post('/forget', (req, res) => {
    req.session = null
    reply(req, res, {})
  })
  return app
}

function idIn (cookie) {
  if (!cookie) return null
  const value = decodeURIComponent(cookie)
  if (!value.startsWith('s:')) return null
  return value.slice(2, value.lastIndexOf('.'))
}

function idValue (header) {
  return header.split(';')[0].slice(NAME.length + 1)
}

function attributeNames (header) {
  return header.split(';').slice(1)
    .map((part) => part.trim().split('=')[0].toLowerCase())
    .sort()
}

function send (port, method, path, form, cookie) {
  const body = form ? new URLSearchParams(form).toString() : ''
  const headers = { Accept: 'application/json' }
  if (form) headers['Content-Type'] = 'application/x-www-form-urlencoded'
  if (body) headers['Content-Length'] = Buffer.byteLength(body)
  if (cookie) headers.Cookie = `${NAME}=${cookie}`

  return new Promise((resolve, reject) => {
    const request = http.request({ port, method, path, headers }, (response) => {
      response.resume()
      response.on('end', () => resolve(response))
    })
    request.on('error', reject)
    request.end(body)
  })
}

async function run (scenario) {
  const store = new RecordingStore()
  const steps = []
  let cookie = null

  for (const stage of scenario.stages) {
    const server = specimen(store, stage.options).listen(0, '127.0.0.1')
    await new Promise((resolve) => server.once('listening', resolve))
    const port = server.address().port
    try {
      for (const [method, path, form] of stage.steps) {
        store.calls = []
        store.lastId = null
        const held = idIn(cookie)
        const response = await send(port, method, path, form, cookie)
        const headers = (response.headers['set-cookie'] || [])
          .filter((header) => header.startsWith(`${NAME}=`))
        const sent = headers.map((header) => idValue(header))
        if (sent.length) cookie = sent[0]
        steps.push({
          status: response.statusCode,
          cookie: sent.length > 0,
          attributes: headers.length ? attributeNames(headers[0]) : [],
          id: store.lastId !== held ? 'new' : 'same',
          ops: store.calls
        })
      }
    } finally {
      await new Promise((resolve) => server.close(resolve))
    }
  }
  return steps
}

async function main () {
  let input = ''
  for await (const chunk of process.stdin) input += chunk
  const answers = []
  for (const scenario of JSON.parse(input)) answers.push(await run(scenario))
  process.stdout.write(JSON.stringify(answers))
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
